"""The README walk-through with a client openapi-python-client generated from the served
/openapi.json (see README.md, "Typed clients"). Every answer is checked.

    VOUCHSAFE_URL=http://127.0.0.1:8080 VOUCHSAFE_ADMIN_KEY=... PYTHONPATH=generated python walkthrough.py
"""
import datetime
import io
import os
import time
import uuid

from vouchsafe_client import AuthenticatedClient
from vouchsafe_client.types import File
from vouchsafe_client.api.campaigns import create_campaign
from vouchsafe_client.api.checkout import redeem_voucher, validate_voucher
from vouchsafe_client.api.customers import add_customer_consent, import_customers, import_customers_json, upsert_customer
from vouchsafe_client.api.generation import export_campaign_vouchers, get_generation_job, start_campaign_generation
from vouchsafe_client.api.keys import create_key
from vouchsafe_client.api.reports import get_campaign_report
from vouchsafe_client.models import (
    Birthday, Budget, CampaignStatus, CheckoutBody, CodeSpec, ConsentBody, CreateCampaign, CreateKey,
    CustomerBody, ExportFormat, ImportCustomer, JobStatus, LoyaltyTierSegment, LoyaltyTierSegmentKind, Order,
    PercentDiscount, PercentDiscountType, Problem, Scope, VoucherExport, VoucherStatus,
)

url = os.environ.get("VOUCHSAFE_URL", "http://127.0.0.1:8080")
admin = AuthenticatedClient(base_url=url, token=os.environ["VOUCHSAFE_ADMIN_KEY"], raise_on_unexpected_status=True)
run = uuid.uuid4().hex[:6]  # ids of this run, so that it can run again

# CRM: customers with zero-party data and consent; imports as a JSON array or as NDJSON.
customer = f"c-42-{run}"
r = upsert_customer.sync_detailed(customer, client=admin,
                                  body=CustomerBody(birthday=Birthday(month=12, day=1), loyalty_tier="gold"))
assert r.status_code == 201 and r.parsed.loyalty_tier == "gold", r
r = add_customer_consent.sync_detailed(customer, client=admin, body=ConsentBody(
    purpose="personalized_offers", granted=True, source="preference_center", policy_version="2026-01"))
assert r.status_code == 201, r
r = import_customers_json.sync_detailed(client=admin, body=[ImportCustomer(id=f"c-43-{run}", loyalty_tier="gold"),
                                                             ImportCustomer(id=" bad id ")])
assert r.parsed.imported == 1 and r.parsed.rejected[0].line == 2, r
ndjson = f'{{"id": "c-44-{run}", "loyalty_tier": "gold"}}\n{{"id": 7}}\n'.encode()
r = import_customers.sync_detailed(client=admin, body=File(payload=io.BytesIO(ndjson)))
assert r.parsed.imported == 1 and r.parsed.rejected[0].line == 2, r

# A campaign for gold members, and one signed code per consented member.
r = create_campaign.sync_detailed(client=admin, body=CreateCampaign(
    name=f"Gold December {run}", currency="EUR",
    segment=LoyaltyTierSegment(kind=LoyaltyTierSegmentKind.LOYALTY_TIER, tiers=["gold"]),
    discount=PercentDiscount(type_=PercentDiscountType.PERCENT, percent=15, max_amount=3000),
    min_order=2000, budget=Budget(max_amount=500000),
    expires_at=datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc), code=CodeSpec(prefix="GOLD")))
assert r.status_code == 201 and isinstance(r.parsed.discount, PercentDiscount), r
campaign = r.parsed.id
job = start_campaign_generation.sync(campaign, client=admin)
while job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
    time.sleep(0.2)
    job = get_generation_job.sync(job.id, client=admin)
assert job.status == JobStatus.DONE, job
export = export_campaign_vouchers.sync(campaign, client=admin, format_=ExportFormat.JSON)
assert isinstance(export, VoucherExport), export
voucher = next(v for v in export.items if v.customer_id == customer)
assert voucher.status == VoucherStatus.ISSUED, voucher
code = voucher.code

# Checkout: validate, redeem (201), the same order again (200), another order (409).
body = CheckoutBody(code=code, customer_id=customer, order=Order(id=f"o-1-{run}", amount=12000, currency="EUR"))
v = validate_voucher.sync(client=admin, body=body)
assert v.valid and v.discount == 1800, v
first = redeem_voucher.sync_detailed(client=admin, body=body)
assert first.status_code == 201, first
again = redeem_voucher.sync_detailed(client=admin, body=body)
assert again.status_code == 200 and again.parsed.id == first.parsed.id, again
other = CheckoutBody(code=code, customer_id=customer, order=Order(id=f"o-2-{run}", amount=12000, currency="EUR"))
r = redeem_voucher.sync_detailed(client=admin, body=other)
assert r.status_code == 409 and isinstance(r.parsed, Problem) and r.parsed.code == "already_redeemed", r

# A key without the checkout scope is refused with a typed 403 problem.
key = create_key.sync(client=admin, body=CreateKey(name=f"reports-{run}", scopes=[Scope.REPORTS]))
reports = AuthenticatedClient(base_url=url, token=key.secret, raise_on_unexpected_status=True)
r = redeem_voucher.sync_detailed(client=reports, body=body)
assert r.status_code == 403 and isinstance(r.parsed, Problem) and r.parsed.code == "forbidden", r

# Marketer: the report, with the reports key.
report = get_campaign_report.sync(campaign, client=reports)
assert report.budget.spent == 1800 and report.status == CampaignStatus.ACTIVE, report
print(f"walk-through passed: campaign {campaign}, code {code}, report verdict: {report.verdict.decision}: {report.verdict.text}")
