"""Lambda entry point of the promote step (one iteration of the promotion Map)."""

from failover.entrypoint import lambda_step
from failover.models import PromotionItem
from failover.steps.promote import promote

handler = lambda_step(PromotionItem, promote)
