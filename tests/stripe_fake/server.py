"""A fake Stripe API on 127.0.0.1, for the test suite: Stripe is never reachable from tests.

It implements the endpoints the application calls, answering with objects of the shapes of Stripe's
own fixtures (fixtures.json beside this file: a subset of stripe/openapi's fixtures3.json, MIT, see
LICENSE) and Stripe's error shapes. Every request is recorded with its idempotency key; a repeated key
gets the first answer again (as Stripe does), and two requests with one key are served one after the
other. It can be told to decline a card, to require authentication (3-D Secure) or to fail with a 500.

Its hosted checkout page (GET /checkout/<session id>) stands in for Stripe Checkout in the browser
test: a card to choose and a button, then the redirect to the session's success URL.

Events: what happened is also recorded as Stripe events (`events`), which tests sign with the webhook
secret (`signature`) and post to the application's endpoint, in any order and as often as they like.
"""

import copy
import hashlib
import hmac
import html
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

FIXTURES = json.loads((Path(__file__).with_name("fixtures.json")).read_text())

# Stripe's test cards, by what they do (https://docs.stripe.com/testing).
TEST_CARDS = {
    "4242424242424242": "ok",
    "4000000000000002": "decline",
    "4000002760003184": "authenticate",
}


def fixture(kind: str, **values) -> dict:
    obj = copy.deepcopy(FIXTURES[kind])
    obj.update(values)
    return obj


def nest(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding (a[b][0][c]=v) back into nested dicts and lists."""
    root: dict = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _lists(root)


def _lists(node):
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


class StripeFailure(Exception):
    def __init__(self, status: int, error: dict) -> None:
        super().__init__(error.get("message", ""))
        self.status = status
        self.error = error


@dataclass
class Request:
    method: str
    path: str
    params: dict
    idempotency_key: str


@dataclass
class FakeStripe:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    objects: dict[str, dict] = field(default_factory=dict)
    private: dict[str, dict] = field(default_factory=dict)  # what the fake remembers beyond the object
    card_behaviour: dict[str, str] = field(default_factory=dict)  # payment method id -> ok/decline/...
    fail_next: int = 0  # the next N API requests answer 500
    fail_paths: str = ""  # ... only those whose path contains this
    refund_status: str = "succeeded"

    def __post_init__(self):
        self._lock = threading.RLock()
        self._idem: dict[str, tuple[int, dict]] = {}
        self._key_locks: dict[str, threading.Lock] = {}
        self._ids = itertools.count(1)

    # --- controls for the tests ------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.events.clear()
            self.objects.clear()
            self.private.clear()
            self.card_behaviour.clear()
            self._idem.clear()
            self.fail_next, self.fail_paths, self.refund_status = 0, "", "succeeded"

    def fail(self, times: int = 1, path: str = "") -> None:
        self.fail_next, self.fail_paths = times, path

    def calls(self, method: str, prefix: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects.values() if o["object"] == kind]

    def event_for(self, type_: str, obj_id: str | None = None) -> dict:
        return next(
            e for e in self.events if e["type"] == type_ and obj_id in (None, e["data"]["object"]["id"])
        )

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}{secrets.token_hex(4)}"

    def card(self, customer: str, number: str = "4242424242424242") -> dict:
        """A card payment method (as Checkout would create), attached to `customer`."""
        with self._lock:
            pm_id = self.new_id("pm")
            base = FIXTURES["payment_method"]["card"]
            method = fixture(
                "payment_method",
                id=pm_id,
                customer=customer,
                created=int(time.time()),
                metadata={},
                card={
                    **copy.deepcopy(base),
                    "last4": number[-4:],
                    "brand": "visa",
                    "exp_month": 12,
                    "exp_year": 2030,
                },
            )
            self.objects[pm_id] = method
            self.card_behaviour[pm_id] = TEST_CARDS.get(number, "ok")
            return method

    def complete_checkout(self, session_id: str, number: str = "4242424242424242") -> dict:
        """What a member does on Checkout's page: pays (or saves) with a card. Returns the session."""
        with self._lock:
            session = self.objects[session_id]
            method = self.card(session["customer"], number)
            behaviour = self.card_behaviour[method["id"]]
            if session["mode"] == "setup":
                setup = fixture(
                    "setup_intent",
                    id=self.new_id("seti"),
                    customer=session["customer"],
                    payment_method=method["id"],
                    status="succeeded",
                    usage="off_session",
                    metadata=session.get("metadata") or {},
                    created=int(time.time()),
                    last_setup_error=None,
                    next_action=None,
                )
                self.objects[setup["id"]] = setup
                session.update(status="complete", setup_intent=setup["id"])
                self._event("setup_intent.succeeded", setup)
                self._event("checkout.session.completed", session)
                return session
            if behaviour == "decline":
                raise StripeFailure(402, self._card_error("card_declined", "generic_decline", None))
            intent = self._intent(
                amount=session["amount_total"],
                currency=session["currency"],
                customer=session["customer"],
                payment_method=method["id"],
                metadata=(self.private[session_id].get("payment_intent_data") or {}).get("metadata") or {},
                status="succeeded",
            )
            intent["setup_future_usage"] = "off_session"
            session.update(status="complete", payment_status="paid", payment_intent=intent["id"])
            self._event("payment_intent.succeeded", intent)
            self._event("checkout.session.completed", session)
            return session

    def signature(self, payload: bytes, secret: str, timestamp: int | None = None) -> str:
        t = int(time.time()) if timestamp is None else timestamp
        signed = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
        return f"t={t},v1={signed}"

    # --- objects ---------------------------------------------------------------------------------

    def _event(self, type_: str, obj: dict) -> dict:
        event = fixture(
            "event",
            id=self.new_id("evt"),
            type=type_,
            created=int(time.time()),
            data={"object": copy.deepcopy(obj)},
            api_version="2025-01-27.acacia",
        )
        self.events.append(event)
        return event

    def _intent(self, *, amount, currency, customer, payment_method, metadata, status) -> dict:
        intent = fixture(
            "payment_intent",
            id=self.new_id("pi"),
            amount=amount,
            amount_received=amount if status == "succeeded" else 0,
            currency=currency,
            customer=customer,
            payment_method=payment_method,
            metadata=metadata,
            status=status,
            created=int(time.time()),
            canceled_at=None,
            last_payment_error=None,
            next_action=None,
            latest_charge=None,
            automatic_payment_methods=None,
            payment_method_types=["card"],
            transfer_data=None,
            processing=None,
            amount_details={"tip": {}},
        )
        if status == "succeeded":
            intent["latest_charge"] = self.new_id("ch")
        self.objects[intent["id"]] = intent
        return intent

    def _card_error(self, code: str, decline_code: str | None, intent: dict | None) -> dict:
        error = {
            "type": "card_error",
            "code": code,
            "message": "Your card was declined." if code == "card_declined" else "Authentication required.",
            "doc_url": f"https://stripe.com/docs/error-codes/{code}",
        }
        if decline_code:
            error["decline_code"] = decline_code
        if intent is not None:
            error["payment_intent"] = copy.deepcopy(intent)
        return error

    def _missing(self, kind: str, obj_id: str):
        raise StripeFailure(
            404,
            {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "message": f"No such {kind}: '{obj_id}'",
                "param": "id",
            },
        )

    def _get(self, kind: str, obj_id: str) -> dict:
        obj = self.objects.get(obj_id)
        if obj is None or obj["object"] != kind:
            self._missing(kind, obj_id)
        return obj

    # --- the API ---------------------------------------------------------------------------------

    def handle(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        routes = [
            ("POST", r"/v1/customers", self._customer_create),
            ("GET", r"/v1/customers/(?P<id>[^/]+)", lambda p, id: self._get("customer", id)),
            ("POST", r"/v1/customers/(?P<id>[^/]+)", self._customer_update),
            ("POST", r"/v1/checkout/sessions", self._session_create),
            ("GET", r"/v1/checkout/sessions/(?P<id>[^/]+)", lambda p, id: self._get("checkout.session", id)),
            ("POST", r"/v1/checkout/sessions/(?P<id>[^/]+)/expire", self._session_expire),
            ("POST", r"/v1/payment_intents", self._intent_create),
            ("GET", r"/v1/payment_intents/(?P<id>[^/]+)", lambda p, id: self._get("payment_intent", id)),
            ("POST", r"/v1/payment_intents/(?P<id>[^/]+)/cancel", self._intent_cancel),
            ("GET", r"/v1/setup_intents/(?P<id>[^/]+)", lambda p, id: self._get("setup_intent", id)),
            ("GET", r"/v1/payment_methods/(?P<id>[^/]+)", lambda p, id: self._get("payment_method", id)),
            ("POST", r"/v1/payment_methods/(?P<id>[^/]+)/detach", self._method_detach),
            ("POST", r"/v1/refunds", self._refund_create),
            ("GET", r"/v1/refunds/(?P<id>[^/]+)", lambda p, id: self._get("refund", id)),
        ]
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if route_method == method and match:
                try:
                    with self._lock:
                        return 200, copy.deepcopy(handler(params, **match.groupdict()))
                except StripeFailure as failure:
                    return failure.status, {"error": failure.error}
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "message": f"Unrecognized request URL ({method}: {path})",
            }
        }

    def _customer_create(self, params):
        customer = fixture(
            "customer",
            id=self.new_id("cus"),
            email=params.get("email"),
            name=params.get("name"),
            metadata=params.get("metadata") or {},
            created=int(time.time()),
            discount=None,
            currency=None,
        )
        address = params.get("address") or {}
        customer["address"] = {**FIXTURES["customer"]["address"], **address}
        self.private[customer["id"]] = {"tax_id_data": params.get("tax_id_data") or []}
        self.objects[customer["id"]] = customer
        return customer

    def _customer_update(self, params, id):
        customer = self._get("customer", id)
        for key in ("email", "name"):
            if key in params:
                customer[key] = params[key]
        if "address" in params:
            customer["address"] = {**FIXTURES["customer"]["address"], **params["address"]}
        self._event("customer.updated", customer)
        return customer

    def _session_create(self, params):
        if params.get("customer") and params["customer"] not in self.objects:
            self._missing("customer", params["customer"])
        session_id = self.new_id("cs_test")
        amount = None
        currency = params.get("currency")
        if params["mode"] == "payment":
            items = params.get("line_items") or []
            amount = sum(int(i["price_data"]["unit_amount"]) * int(i.get("quantity", 1)) for i in items)
            currency = items[0]["price_data"]["currency"]
        session = fixture(
            "checkout.session",
            id=session_id,
            mode=params["mode"],
            customer=params.get("customer"),
            client_reference_id=params.get("client_reference_id"),
            locale=params.get("locale"),
            amount_total=amount,
            amount_subtotal=amount,
            currency=currency,
            success_url=params.get("success_url"),
            cancel_url=params.get("cancel_url"),
            metadata=params.get("metadata") or {},
            status="open",
            payment_status="unpaid" if params["mode"] == "payment" else "no_payment_required",
            payment_intent=None,
            setup_intent=None,
            url=f"{self.url}/checkout/{session_id}",
            created=int(time.time()),
            expires_at=int(time.time()) + 86400,
        )
        self.private[session_id] = {"payment_intent_data": params.get("payment_intent_data") or {}}
        self.objects[session_id] = session
        return session

    def _session_expire(self, params, id):
        session = self._get("checkout.session", id)
        if session["status"] == "open":
            session["status"] = "expired"
            self._event("checkout.session.expired", session)
        return session

    def _intent_create(self, params):
        customer = params.get("customer")
        method_id = params.get("payment_method")
        method = self._get("payment_method", method_id) if method_id else None
        if method is not None and method.get("customer") != customer:
            raise StripeFailure(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "payment_method_not_attached",
                    "message": "The PaymentMethod is not attached to this customer.",
                },
            )
        behaviour = self.card_behaviour.get(method_id, "ok")
        status = {"ok": "succeeded", "decline": "requires_payment_method", "authenticate": "requires_action"}[
            behaviour
        ]
        intent = self._intent(
            amount=int(params["amount"]),
            currency=params["currency"],
            customer=customer,
            payment_method=method_id if behaviour != "decline" else None,
            metadata=params.get("metadata") or {},
            status=status,
        )
        if behaviour == "ok":
            self._event("payment_intent.succeeded", intent)
            return intent
        if behaviour == "decline":
            intent["last_payment_error"] = self._card_error("card_declined", "insufficient_funds", None)
            self._event("payment_intent.payment_failed", intent)
            raise StripeFailure(402, self._card_error("card_declined", "insufficient_funds", intent))
        intent["last_payment_error"] = self._card_error(
            "authentication_required", "authentication_required", None
        )
        intent["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
        self._event("payment_intent.requires_action", intent)
        raise StripeFailure(
            402, self._card_error("authentication_required", "authentication_required", intent)
        )

    def _intent_cancel(self, params, id):
        intent = self._get("payment_intent", id)
        if intent["status"] in ("succeeded", "canceled"):
            raise StripeFailure(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "payment_intent_unexpected_state",
                    "message": f"This PaymentIntent's status is {intent['status']}.",
                },
            )
        intent.update(
            status="canceled", canceled_at=int(time.time()), cancellation_reason="requested_by_customer"
        )
        self._event("payment_intent.canceled", intent)
        return intent

    def _method_detach(self, params, id):
        method = self._get("payment_method", id)
        if not method.get("customer"):
            raise StripeFailure(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "payment_method_unexpected_state",
                    "message": "The payment method you provided is not attached to a customer.",
                },
            )
        method["customer"] = None
        self._event("payment_method.detached", method)
        return method

    def _refund_create(self, params):
        intent = self._get("payment_intent", params.get("payment_intent", ""))
        amount = int(params.get("amount") or intent["amount_received"])
        refunded = sum(
            r["amount"]
            for r in self.of_kind("refund")
            if r["payment_intent"] == intent["id"] and r["status"] in ("succeeded", "pending")
        )
        if intent["status"] != "succeeded" or amount + refunded > intent["amount_received"]:
            raise StripeFailure(
                400,
                {
                    "type": "invalid_request_error",
                    "code": "amount_too_large"
                    if intent["status"] == "succeeded"
                    else "charge_not_refundable",
                    "message": "Refund amount is greater than the unrefunded amount on the charge.",
                    "param": "amount",
                },
            )
        refund = fixture(
            "refund",
            id=self.new_id("re"),
            amount=amount,
            currency=intent["currency"],
            payment_intent=intent["id"],
            charge=intent["latest_charge"],
            metadata=params.get("metadata") or {},
            status=self.refund_status,
            created=int(time.time()),
        )
        self.objects[refund["id"]] = refund
        self._event("refund.created", refund)
        return refund

    # --- the HTTP side ---------------------------------------------------------------------------

    def serve(self, method: str, path: str, params: dict, key: str) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(Request(method, path, params, key))
            if self.fail_next and (not self.fail_paths or self.fail_paths in path):
                self.fail_next -= 1
                return 500, {"error": {"type": "api_error", "message": "An unknown error occurred"}}
        if not key or method != "POST":
            return self.handle(method, path, params)
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # Stripe serves two requests with one key one after the other
            if key in self._idem:
                return self._idem[key]
            answer = self.handle(method, path, params)
            if answer[0] < 500:
                self._idem[key] = answer
            return answer

    def page(self, session_id: str, error: str = "") -> str:
        session = self.objects.get(session_id)
        if session is None:
            return "<p>Unknown session</p>"
        amount = session.get("amount_total")
        title = (
            "Save a card"
            if session["mode"] == "setup"
            else f"Pay {amount / 100:.2f} {session['currency'].upper()}"
        )
        options = "".join(
            f'<option value="{number}">{number} ({what})</option>' for number, what in TEST_CARDS.items()
        )
        return (
            f'<!doctype html><html lang="{html.escape(session.get("locale") or "en")}"><head>'
            f"<title>Fake Checkout</title></head><body><h1>{html.escape(title)}</h1>"
            + (f'<p role="alert">{html.escape(error)}</p>' if error else "")
            + f'<form method="post"><label>Card number <select name="card">{options}</select></label>'
            f'<button type="submit">{"Save" if session["mode"] == "setup" else "Pay"}</button></form>'
            f'<a href="{html.escape(session["cancel_url"] or "")}">Cancel</a></body></html>'
        )


def start(fake: FakeStripe) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _params(self) -> dict:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            query = urlsplit(self.path).query
            return nest(parse_qsl(body, keep_blank_values=True) + parse_qsl(query, keep_blank_values=True))

        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", fake.new_id("req"))
            if status >= 500:
                self.send_header("Stripe-Should-Retry", "true")
            self.end_headers()
            self.wfile.write(data)

        def _html(self, status: int, text: str, location: str = "") -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            if location:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            path = urlsplit(self.path).path
            params = self._params()
            if path == "/favicon.ico":
                return self._html(204, "")
            if path.startswith("/checkout/"):
                session_id = path.removeprefix("/checkout/")
                if method == "GET":
                    return self._html(200, fake.page(session_id))
                try:
                    session = fake.complete_checkout(session_id, params.get("card", "4242424242424242"))
                except StripeFailure as failure:
                    return self._html(200, fake.page(session_id, failure.error["message"]))
                except KeyError:
                    return self._html(404, "<p>Unknown session</p>")
                target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
                return self._html(303, "", location=target)
            if self.headers.get("Authorization", "") != "Bearer sk_test_fake":
                return self._reply(
                    401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}
                )
            status, body = fake.serve(method, path, params, self.headers.get("Idempotency-Key", ""))
            return self._reply(status, body)

        def do_GET(self):
            self._route("GET")

        def do_POST(self):
            self._route("POST")

        def do_DELETE(self):
            self._route("DELETE")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
