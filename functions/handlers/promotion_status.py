"""Lambda entry point of the promotion status step (one iteration of the promotion Map)."""

from failover.entrypoint import lambda_step
from failover.models import PromotionItem
from failover.steps.promotion_status import promotion_status

handler = lambda_step(PromotionItem, promotion_status)
