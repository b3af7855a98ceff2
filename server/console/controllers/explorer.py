"""The decision explorer: what the router would decide for a product, and why, with a
per-campaign override tried side by side.

Runs here are what-ifs: they are not written to the decision log, which keeps the
record of decisions the service gave (what `policy diff --from-log` and the stock
accounting replay). A GET with the form in the query, so a result can be linked.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get

from connectors.registry import EXTERNAL_CHANNELS
from engine.types import DecideRequest, DecisionError
from server.console import explain, pages
from server.console.oauth import FLOWS

RECENT = 12
DEFAULTS = {
    "stock_quantity": "60",
    "days_since_last_sale": "45",
    "proposed_price": "19.99",
    "duration_hours": "168",
}


class ExplorerController(Controller):
    path = "/explorer"

    @get("/")
    async def index(self, request: Request[Any, Any, Any]) -> Response[Any]:
        user, merchant_id = await pages.acting_merchant(request)
        svc = pages.services(request)
        recent = await svc.decision_log.recent(merchant_id, RECENT)
        form = {k: str(v) for k, v in request.query_params.items()}
        picked = form.pop("from", "")
        if picked:
            logged = next((d for d in recent if d.decision_id == picked), None)
            if logged is not None:
                form = {**explain.form_of(logged.request), "run": "1"}
        run = form.get("run") == "1"
        context: dict[str, Any] = {"errors": {}, "results": []}
        status = 200
        settings = await svc.merchants.settings(merchant_id)
        engine = svc.policies.engine
        labels = {c: (FLOWS[c].label if c in FLOWS else c) for c in EXTERNAL_CHANNELS}
        if run:
            try:
                base_request = explain.request_from(form, merchant_id)
                baseline = engine.decide(base_request, settings)
                overrides = explain.overrides_from(form, baseline.parameters)
                results = [("As configured", baseline)]
                if overrides:
                    tried = engine.decide(
                        DecideRequest(
                            merchant_id=merchant_id,
                            product=base_request.product,
                            proposal=base_request.proposal,
                            overrides=overrides,
                            policy_version=base_request.policy_version,
                        ),
                        settings,
                    )
                    results.append(("With the campaign override", tried))
                stock = base_request.product.stock_quantity
                context["results"] = [
                    {
                        "title": title,
                        "decision": decision,
                        "segments": explain.segments(decision, stock, labels),
                        "steps": explain.steps(decision),
                        "params": [
                            (
                                name,
                                explain.shown(p.value),
                                explain.LAYERS[p.source],
                                len(results) > 1 and results[0][1].parameters.get(name) != p,
                            )
                            for name, p in sorted(decision.parameters.items())
                        ],
                    }
                    for title, decision in results
                ]
                context["changed"] = len(results) > 1 and _differs(results[0][1], results[1][1])
            except explain.FormProblems as problems:
                context["errors"] = problems.problems
                status = 422
            except DecisionError as exc:
                field = exc.field
                name = (
                    explain.override_row(field, form)
                    if field.startswith("overrides.")
                    else field.rsplit(".", 1)[-1]
                )
                context["errors"] = {name: str(exc)}
                status = 422
        try:
            param_names = sorted(
                engine.effective_params(
                    engine.policy_set.resolve(merchant_id, None),
                    DecideRequest(
                        merchant_id=merchant_id,
                        product=explain.DEFAULT_PRODUCT,
                        proposal=explain.DEFAULT_PROPOSAL,
                    ),
                    settings,
                )
            )
        except DecisionError:
            param_names = []
        return pages.render(
            request,
            "explorer.html",
            active="explorer",
            user=user,
            merchant_id=merchant_id,
            form={**DEFAULTS, **form} if not run else form,
            recent=recent,
            run=run,
            param_names=param_names,
            override_rows=range(1, explain.OVERRIDE_ROWS + 1),
            labels=labels,
            status=status,
            **context,
        )


def _differs(a: Any, b: Any) -> bool:
    return (a.rule_id, a.store_units, a.external_channels) != (
        b.rule_id,
        b.store_units,
        b.external_channels,
    )
