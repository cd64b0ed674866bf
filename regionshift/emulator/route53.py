"""Route 53's ChangeResourceRecordSets as Route 53 validates and applies it, over moto's zone model.

moto 5.2.5 accepts a CNAME at the apex or beside an A record, an alias with a TTL, a duplicate
CREATE (two record sets with one name and type), and applies a batch change by change, so that a
change refused half-way leaves the earlier ones applied. Route 53 "validates the changes in the
request and then either makes all or none of the changes in the change batch"
(https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html).

``change_resource_record_sets`` replaces moto's backend method (``patches.PATCHES``): the whole batch
is checked against the zone as it would be after each earlier change of the batch (Route 53 applies
changes in order: a CNAME created before the DELETE of the A record it replaces is refused), then
applied. Refusals use the error codes of the API model: ``InvalidInput`` for a change that is
malformed on its own, ``InvalidChangeBatch`` (with every message, as Route 53 lists them) for changes
that conflict with the zone or with each other.
"""

import copy
from collections.abc import Iterable
from typing import Any

# "Specify Z2FDTNDATAQYW2. ... You can't set EvaluateTargetHealth to true when the alias target is a
# CloudFront distribution." (Route 53 API Reference, AliasTarget)
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"
# "The sum of the number of characters (including spaces) in all Value elements in a request can't
# exceed 32,000 characters. When the value of the Action element is UPSERT, each character in a Value
# element is counted twice." (Route 53 Developer Guide, Quotas, "Maximums on API requests"). The
# 1,000 ResourceRecord elements of the same section moto's response layer already enforces, counting
# UPSERT twice (moto.route53.responses). The guide states no separate limit on Change elements.
MAX_VALUE_CHARACTERS = 32_000
ACTIONS = ("CREATE", "DELETE", "UPSERT")
# The attributes that make up a record set's value: a DELETE must repeat them all. "To delete a
# resource record set, you must specify all the same values that you specified when you created it."
# (API Reference, ChangeResourceRecordSets)
_VALUE_FIELDS = ("TTL", "Weight", "Region", "Failover", "GeoLocation", "HealthCheckId", "MultiValueAnswer")


def _fqdn(name: str) -> str:
    """A DNS name as Route 53 compares them: case-insensitive, absolute (one trailing dot)."""
    return name.lower().rstrip(".") + "."


def _absolute(name: str) -> str:
    return name if name.endswith(".") else name + "."


Key = tuple[str, str, str | None]  # (fqdn, type, SetIdentifier)


def _key(record_set: dict[str, Any]) -> Key:
    return (_fqdn(record_set["Name"]), str(record_set["Type"]), record_set.get("SetIdentifier"))


def _values(record_set: dict[str, Any]) -> list[str]:
    return [str(r["Value"]) if isinstance(r, dict) else str(r) for r in record_set.get("ResourceRecords") or []]


def _alias(record_set: dict[str, Any]) -> tuple[str, str, bool] | None:
    target = record_set.get("AliasTarget")
    if not target:
        return None
    evaluate = target.get("EvaluateTargetHealth")
    evaluate = evaluate.lower() == "true" if isinstance(evaluate, str) else bool(evaluate)
    return (str(target["HostedZoneId"]), _fqdn(str(target["DNSName"])), evaluate)


def _value(record_set: dict[str, Any]) -> tuple[Any, ...]:
    """What a DELETE must match: every value field, the records in any order, the alias target."""
    fields = tuple(str(record_set.get(f)) if record_set.get(f) is not None else None for f in _VALUE_FIELDS)
    return (*fields, tuple(sorted(_values(record_set))), _alias(record_set))


def _stored(record: Any) -> dict[str, Any]:
    """moto's RecordSet in the request's shape (moto keeps the records as bare values)."""
    found = {
        "Name": record.name,
        "Type": record.type,
        "TTL": record.ttl,
        "ResourceRecords": [{"Value": v} for v in record.records or []],
        "SetIdentifier": record.set_identifier,
        "Weight": record.weight,
        "Region": record.region,
        "Failover": record.failover,
        "GeoLocation": record.geo_location,
        "HealthCheckId": record.health_check_id,
        "MultiValueAnswer": record.multi_value_answer,
        "AliasTarget": record.alias_target,
    }
    return {k: v for k, v in found.items() if v not in (None, [])}


def _describe(change: dict[str, Any]) -> str:
    rrset = change["ResourceRecordSet"]
    return (
        f"[Action={change['Action']}, Name={rrset['Name']}, Type={rrset['Type']}, "
        f"SetIdentifier={rrset.get('SetIdentifier', 'null')}]"
    )


def malformed(changes: Iterable[dict[str, Any]]) -> str | None:
    """The InvalidInput message for the first change that is malformed on its own, if any.

    A record set is exactly one of: an alias (AliasTarget, no TTL or ResourceRecords), a basic record
    (TTL and ResourceRecords), or a traffic policy instance ("If you're creating or updating an alias
    resource record set, omit TTL"; "If you're creating an alias resource record set, omit
    ResourceRecords": API Reference, ResourceRecordSet). The message is the one Route 53 returns.
    """
    for change in changes:
        if change["Action"] not in ACTIONS:
            from moto.route53.exceptions import InvalidActionValue

            raise InvalidActionValue(change["Action"])
        rrset = change["ResourceRecordSet"]
        kinds = [
            "AliasTarget" in rrset,
            "TTL" in rrset or bool(rrset.get("ResourceRecords")),
            "TrafficPolicyInstanceId" in rrset,
        ]
        basic_complete = "TTL" in rrset and bool(rrset.get("ResourceRecords"))
        if sum(kinds) > 1:
            found = "more than one"
        elif (kinds[1] and not basic_complete) or not any(kinds):
            found = "none"
        else:
            continue
        return (
            "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or "
            f"TrafficPolicyInstanceId], but found {found} in Change with {_describe(change)}"
        )
    return None


def conflicts(zone_name: str, existing: Iterable[dict[str, Any]], changes: Iterable[dict[str, Any]]) -> list[str]:
    """Every InvalidChangeBatch message for ``changes`` applied in order to a zone holding ``existing``."""
    apex = _fqdn(zone_name)
    zone_name = _absolute(zone_name)
    state: dict[Key, dict[str, Any]] = {_key(r): r for r in existing}
    messages: list[str] = []
    characters = 0
    for change in changes:
        action, rrset = change["Action"], change["ResourceRecordSet"]
        name, rtype = _fqdn(rrset["Name"]), str(rrset["Type"])
        shown = _absolute(rrset["Name"])
        key = _key(rrset)
        characters += sum(len(v) for v in _values(rrset)) * (2 if action == "UPSERT" else 1)
        if name != apex and not name.endswith("." + apex):
            messages.append(f"RRSet with DNS name {shown} is not permitted in zone {zone_name}")
            continue
        if action == "DELETE":
            if key not in state:
                messages.append(
                    f"Tried to delete resource record set [name='{shown}', type='{rtype}'] but it was not found"
                )
            elif _value(state[key]) != _value(rrset):
                messages.append(
                    f"Tried to delete resource record set [name='{shown}', type='{rtype}'] "
                    "but the values provided do not match the current values"
                )
            else:
                del state[key]
            continue
        if action == "CREATE" and key in state:
            messages.append(
                f"Tried to create resource record set [name='{shown}', type='{rtype}'] but it already exists"
            )
            continue
        # "You can't create a CNAME record at the zone apex"; "If you create a CNAME record for a
        # subdomain, you cannot create any other records for that subdomain" (Route 53 Developer Guide,
        # Supported DNS record types, CNAME record type; the same holds for alias records, which
        # Route 53 stores as records of their type).
        if rtype == "CNAME" and name == apex:
            messages.append(f"RRSet of type CNAME with DNS name {shown} is not permitted at apex in zone {zone_name}")
            continue
        others = {t for (n, t, _), _r in state.items() if n == name and t != rtype}
        if rtype == "CNAME" and others:
            messages.append(
                f"RRSet of type CNAME with DNS name {shown} is not permitted as it conflicts with other "
                f"records with the same DNS name in zone {zone_name}"
            )
            continue
        if "CNAME" in others:
            messages.append(
                f"RRSet of type {rtype} with DNS name {shown} is not permitted because a conflicting RRSet "
                f"of type CNAME with the same DNS name already exists in zone {zone_name}"
            )
            continue
        alias = _alias(rrset)
        if alias is not None and alias[0] == CLOUDFRONT_ZONE_ID and alias[2]:
            # The rule is documented (AliasTarget, EvaluateTargetHealth); this wording is modelled on
            # Route 53's other alias-target messages, not copied from a captured response.
            messages.append(
                f"Tried to create an alias that targets {alias[1]}, type {rtype} in zone {CLOUDFRONT_ZONE_ID}, "
                "but EvaluateTargetHealth is not supported for CloudFront distribution targets"
            )
            continue
        state[key] = rrset
    if characters > MAX_VALUE_CHARACTERS:
        messages.append(f"Number of characters limit of {MAX_VALUE_CHARACTERS} exceeded.")
    return messages


def _invalid_change_batch(messages: list[str]) -> Exception:
    from moto.route53.exceptions import Route53ClientError

    # Route 53 lists every message of the batch; SDKs show them as one "[first, second]" message.
    error = Route53ClientError("InvalidChangeBatch", "[" + ", ".join(messages) + "]")
    error.messages = messages  # type: ignore[attr-defined]  # the model's InvalidChangeBatch.messages
    return error


def _as_stored(rrset: dict[str, Any]) -> dict[str, Any]:
    """A record set as moto's RecordSet takes it, as Route 53 returns it: absolute names, alias DNS
    names with their trailing dot ("dualstack.my-lb.us-east-1.elb.amazonaws.com." in ListResourceRecordSets
    answers: Route 53 API Reference, ListResourceRecordSets, examples)."""
    stored = copy.deepcopy(rrset)
    stored["Name"] = _absolute(stored["Name"])
    if "ResourceRecords" in stored:
        stored["ResourceRecords"] = _values(stored)
    if "AliasTarget" in stored:
        stored["AliasTarget"]["DNSName"] = _absolute(str(stored["AliasTarget"]["DNSName"]))
    return stored


def change_resource_record_sets(backend: Any, zoneid: str, change_list: list[dict[str, Any]]) -> None:
    """Validate the whole batch, then apply it (moto's backend signature)."""
    from moto.route53.exceptions import InvalidInput
    from moto.route53.models import RecordSet

    record_set: Any = RecordSet  # moto's CloudFormation model: abstract to mypy, built by moto the same way
    from moto.route53.utils import validate_domain_name

    zone = backend.get_hosted_zone(zoneid)
    for change in change_list:
        validate_domain_name(change["ResourceRecordSet"]["Name"], code="InvalidChangeBatch")
    message = malformed(change_list)
    if message is not None:
        raise InvalidInput(message)
    messages = conflicts(zone.name, [_stored(r) for r in zone.rrsets], change_list)
    if messages:
        raise _invalid_change_batch(messages)
    for change in change_list:
        key = _key(change["ResourceRecordSet"])
        kept = [r for r in zone.rrsets if _key(_stored(r)) != key]
        if change["Action"] != "DELETE":
            kept.append(record_set(_as_stored(change["ResourceRecordSet"])))
        zone.rrsets = kept
        zone.rr_changes.append(copy.deepcopy(change))  # moto's journal, kept as moto keeps it
