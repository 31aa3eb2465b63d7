"""The questionnaire as a small web site, for a group around one laptop (`sovstack ask --web`).

It walks the same questions (`decision_tree/questions.yml`), with the same `when` conditions and
validation (`questionnaire.coerce`), and makes the recommendation with the same code
(`service.recommend`) as the terminal. Pages are plain HTML forms (POST, then redirect to a GET):
they work without JavaScript.

Each browser gets a session: an unguessable id in an HttpOnly, SameSite=Strict cookie, and a CSRF
token that every form carries. Answers live in memory only and are gone when the server stops.
The Host header must name the address the server listens on (no DNS rebinding).

No printing here: `cli/main.py` prints the address and stops the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sovstack.catalog import Catalog, load_catalog
from sovstack.errors import SovstackError, UserError
from sovstack.paths import templates_dir
from sovstack.recommend.questionnaire import (
    LANGS,
    AnswerError,
    Question,
    Questionnaire,
    coerce,
    load_questionnaire,
    when_applies,
)
from sovstack.recommend.wording import WEB_TEXT as TEXT

SESSION_IDLE_SECONDS = 12 * 3600
MAX_SESSIONS = 1000
MAX_BODY = 64 * 1024
DOWNLOADS = {
    "answers.yml": ("answers_yaml", "application/yaml; charset=utf-8"),
    "report.html": ("html", "text/html; charset=utf-8"),
    "report.md": ("markdown", "text/markdown; charset=utf-8"),
}
# The report's print button is an inline handler; the CSP allows exactly that one script.
_PRINT_HASH = base64.b64encode(hashlib.sha256(b"window.print()").digest()).decode()
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; "
       f"script-src 'self' 'unsafe-hashes' 'sha256-{_PRINT_HASH}'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
STATIC = {"web.css": "text/css; charset=utf-8", "report.css": "text/css; charset=utf-8"}


# ---------------------------------------------------------------------------------------------
# Where a set of answers stands in the questionnaire.

@dataclass
class Progress:
    path: list[Question]  # the questions that apply, in order (later ones may change with answers)
    known: dict[str, Any]  # valid answers so far (and defaults, to evaluate later `when`s)
    before: dict[str, dict[str, Any]]  # for each question: the answers it is validated against
    invalid: dict[str, str]  # stored answers that no longer hold (e.g. a need un-ticked), with why
    first_missing: Question | None  # the first question without a valid answer; None: complete

    def index(self, question_id: str) -> int | None:
        for i, q in enumerate(self.path):
            if q.id == question_id:
                return i
        return None

    def reachable(self, question_id: str) -> bool:
        """Answered already, or the next one to answer: no skipping ahead."""
        i = self.index(question_id)
        if i is None:
            return False
        return self.first_missing is None or i <= self.index(self.first_missing.id)

    def given(self) -> dict[str, Any]:
        """The answers to hand to `service.recommend`, like an answers file."""
        return {q.id: self.known[q.id] for q in self.path if q.id in self.known}


def progress(questionnaire: Questionnaire, answers: dict[str, Any]) -> Progress:
    known: dict[str, Any] = {}
    assumed: dict[str, Any] = {}  # known plus defaults of unanswered questions, for `when` only
    path: list[Question] = []
    before: dict[str, dict[str, Any]] = {}
    invalid: dict[str, str] = {}
    first_missing = None
    for question in questionnaire.questions:
        # A question whose condition reads an answer not given yet counts as coming: the total
        # shown ("question 3 of 14") only ever goes down as answers come in.
        undecided = any(name not in assumed for name in _condition_names(question.when))
        if not (undecided or when_applies(question, assumed)):
            continue
        path.append(question)
        before[question.id] = dict(known)
        if question.id in answers:
            try:
                known[question.id] = assumed[question.id] = coerce(question, answers[question.id], known)
                continue
            except AnswerError as exc:
                invalid[question.id] = str(exc)
        if first_missing is None:
            first_missing = question
        if question.default is not None:
            assumed[question.id] = question.default
    return Progress(path, known, before, invalid, first_missing)


_NAMES: dict[str, frozenset[str]] = {}


def _condition_names(expression: str | None) -> frozenset[str]:
    """The answers a `when` expression reads."""
    if not expression:
        return frozenset()
    if expression not in _NAMES:
        from jinja2 import Environment, meta

        _NAMES[expression] = frozenset(meta.find_undeclared_variables(Environment().parse(f"{{{{ {expression} }}}}")))
    return _NAMES[expression]


# ---------------------------------------------------------------------------------------------
# Sessions: one per browser, in memory only.

@dataclass
class Session:
    id: str
    csrf: str
    lang: str
    answers: dict[str, Any] = field(default_factory=dict)
    flash: dict[str, Any] | None = None  # a refused answer, shown once next to its question
    seen: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cache: tuple[Any, Any] | None = None  # (key, service.Result) of the last recommendation


class Sessions:
    def __init__(self, lang: str):
        self.lang = lang
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.seen > SESSION_IDLE_SECONDS:
                del self._sessions[session_id]
                return None
            session.seen = now
            return session

    def new(self) -> Session:
        session = Session(id=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), lang=self.lang)
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                oldest = min(self._sessions.values(), key=lambda s: s.seen)
                del self._sessions[oldest.id]
            self._sessions[session.id] = session
        return session

    def __len__(self) -> int:
        return len(self._sessions)


# ---------------------------------------------------------------------------------------------
# Which Host headers are ours.

def _split_host(value: str) -> tuple[str, int | None] | None:
    value = value.strip().lower()
    try:
        parts = urlsplit("//" + value)
        return (parts.hostname or "", parts.port)
    except ValueError:
        return None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


class HostCheck:
    """Accept only Host headers naming the bound address (DNS rebinding sends another name)."""

    def __init__(self, host: str, port: int):
        self.port = port
        host = host.strip("[]").lower()
        self.wildcard = host in ("", "0.0.0.0", "::")
        names = {host}
        if host in ("127.0.0.1", "::1", "localhost") or self.wildcard:
            names |= {"localhost", "127.0.0.1", "::1"}
        if self.wildcard:
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        self.names = names

    def __call__(self, header: str | None) -> bool:
        split = _split_host(header or "")
        if split is None:
            return False
        name, port = split
        if port not in (self.port, None if self.port == 80 else self.port):
            return False
        # On every address, an IP literal cannot be rebound by DNS; a name must be ours.
        return name in self.names or (self.wildcard and _is_ip(name))


# ---------------------------------------------------------------------------------------------
# The application: a request in, a response out (no sockets here, easy to test).

@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    form: dict[str, list[str]] = field(default_factory=dict)

    def cookie(self, name: str) -> str | None:
        try:
            jar = SimpleCookie(self.headers.get("cookie", ""))
        except CookieError:
            return None
        morsel = jar.get(name)
        return morsel.value if morsel else None

    def field(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


class WebApp:
    def __init__(self, lang: str = "en", *, host_check: HostCheck, cookie_name: str = "sovstack_session",
                 catalog: Catalog | None = None, questionnaire: Questionnaire | None = None):
        self.catalog = catalog or load_catalog()
        self.questionnaire = questionnaire or load_questionnaire()
        self.sessions = Sessions(lang)
        self.host_check = host_check
        self.cookie_name = cookie_name
        self.env = _environment()

    # -- plumbing ------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if not self.host_check(request.headers.get("host")):
            return self._plain(HTTPStatus.MISDIRECTED_REQUEST, TEXT["en"]["bad_host"])
        path = request.path
        if path.startswith("/static/"):
            return self._static(path.removeprefix("/static/"))
        session = self.sessions.get(request.cookie(self.cookie_name))
        if request.method == "POST":
            if session is None or not self._post_allowed(request, session):
                fresh = session is None
                session = session or self.sessions.new()
                refused = self._page(session, "message.html.j2", HTTPStatus.FORBIDDEN,
                                     heading="forbidden", text="forbidden_text")
                return self._with_cookie(refused, session) if fresh else refused
            with session.lock:
                return self._with_cookie(self._post(session, request), session)
        if request.method not in ("GET", "HEAD"):
            return self._plain(HTTPStatus.METHOD_NOT_ALLOWED, "GET or POST only")
        fresh = session is None
        session = session or self.sessions.new()
        with session.lock:
            response = self._get(session, request)
        return self._with_cookie(response, session) if fresh else response

    def _post_allowed(self, request: Request, session: Session) -> bool:
        origin = request.headers.get("origin")
        if origin and origin != "null" and not self.host_check(urlsplit(origin).netloc):
            return False
        token = request.field("csrf") or ""
        return hmac.compare_digest(token.encode(), session.csrf.encode())

    def _with_cookie(self, response: Response, session: Session) -> Response:
        cookie = f"{self.cookie_name}={session.id}; Path=/; HttpOnly; SameSite=Strict"
        response.headers.append(("Set-Cookie", cookie))
        return response

    @staticmethod
    def _redirect(location: str) -> Response:
        return Response(HTTPStatus.SEE_OTHER, b"", [("Location", location)])

    @staticmethod
    def _plain(status: int, text: str) -> Response:
        return Response(status, (text + "\n").encode(), [("Content-Type", "text/plain; charset=utf-8")])

    def _page(self, session: Session, template: str, status: int = HTTPStatus.OK, **context: Any) -> Response:
        lang = session.lang
        html = self.env.get_template(template).render(
            t=TEXT[lang], lang=lang, langs=LANGS, csrf=session.csrf, here=context.pop("here", "/"), **context)
        return Response(status, html.encode(), [("Content-Type", "text/html; charset=utf-8")])

    def _static(self, name: str) -> Response:
        if name not in STATIC:
            return self._plain(HTTPStatus.NOT_FOUND, "not found")
        folder = "report" if name == "report.css" else "web"
        body = (templates_dir() / folder / name).read_bytes()
        return Response(HTTPStatus.OK, body, [("Content-Type", STATIC[name]), ("Cache-Control", "max-age=300")])

    # -- pages ---------------------------------------------------------------------------------

    def _get(self, session: Session, request: Request) -> Response:
        path = request.path
        state = progress(self.questionnaire, session.answers)
        if path == "/":
            return self._page(session, "welcome.html.j2", here="/", count=len(state.path),
                              started=bool(session.answers), complete=state.first_missing is None,
                              first=state.path[0].id, resume=_resume(state))
        if path.startswith("/q/"):
            question = self.questionnaire.by_id.get(path.removeprefix("/q/"))
            if question is None:
                return self._not_found(session)
            if not state.reachable(question.id):
                return self._redirect(_resume(state))
            return self._question(session, state, question)
        if path == "/result":
            if state.first_missing is not None:
                return self._redirect(_resume(state))
            try:
                result = self._result(session, state)
            except SovstackError as exc:
                return self._page(session, "message.html.j2", HTTPStatus.UNPROCESSABLE_ENTITY,
                                  heading="failed", detail=exc.message, here="/result")
            from sovstack.recommend.report import template_context

            context = template_context(result.recommendation, self.catalog, session.lang)
            report_t = context.pop("t")
            context.pop("lang")
            return self._page(session, "result.html.j2", here="/result", last=state.path[-1].id,
                              report_t=report_t, given=self._answer_list(state, session.lang), **context)
        if path.startswith("/download/"):
            name = path.removeprefix("/download/")
            if name not in DOWNLOADS:
                return self._not_found(session)
            if state.first_missing is not None:
                return self._redirect(_resume(state))
            attribute, content_type = DOWNLOADS[name]
            body = getattr(self._result(session, state), attribute).encode()
            return Response(HTTPStatus.OK, body, [("Content-Type", content_type),
                                                  ("Content-Disposition", f'attachment; filename="{name}"')])
        return self._not_found(session)

    def _not_found(self, session: Session) -> Response:
        return self._page(session, "message.html.j2", HTTPStatus.NOT_FOUND, heading="not_found")

    def _question(self, session: Session, state: Progress, question: Question) -> Response:
        lang = session.lang
        flash = session.flash if session.flash and session.flash["question"] == question.id else None
        session.flash = None
        error = raw = None
        if flash:
            error, raw = flash["error"], flash["raw"]
        elif question.id in state.invalid:
            error, raw = state.invalid[question.id], session.answers.get(question.id)
        if raw is not None or flash:
            value = raw
        elif question.id in state.known:
            value = state.known[question.id]
        else:
            value = question.default
        choices = question.choices
        if question.subset_of:  # offer only what was answered to the question it narrows
            chosen = state.known.get(question.subset_of) or []
            choices = [c for c in question.choices if c.value in chosen]
        index = state.index(question.id)
        previous = state.path[index - 1].id if index else None
        return self._page(
            session, "question.html.j2", here=f"/q/{question.id}", q=question, choices=choices,
            label=question.label.get(lang), help=question.help.get(lang), n=index + 1, total=len(state.path),
            previous=previous, value=_shown(question, value), error=error and _problem(question, raw, error, lang),
            raw=_raw_text(raw), allowed=self._allowed(question, lang), complete=state.first_missing is None)

    @staticmethod
    def _answer_list(state: Progress, lang: str) -> list[tuple[str, str, str]]:
        """(question id, label, the answer in words) for every question that applied."""
        t = TEXT[lang]
        rows = []
        for q in state.path:
            value = state.known.get(q.id)
            if q.type == "bool":
                shown = t["yes"] if value else t["no"]
            elif q.type == "choice":
                shown = q.choice_label(value, lang)
            elif q.type == "multi":
                shown = ", ".join(q.choice_label(v, lang) for v in value or []) or "—"
            else:
                shown = "—" if value is None else str(value)
            rows.append((q.id, q.label.get(lang), shown))
        return rows

    def _allowed(self, question: Question, lang: str) -> str:
        """What is allowed, said for a form: boxes are described as boxes, numbers and text as the terminal does."""
        t = TEXT[lang]
        if question.subset_of:
            return t["pick_listed"].format(question=self.questionnaire.by_id[question.subset_of].label.get(lang))
        if question.type in ("choice", "bool"):
            return t["pick_one"]
        if question.type == "multi":
            return t["pick_some"]
        return question.allowed(lang)

    def _result(self, session: Session, state: Progress):
        from sovstack.recommend.service import recommend

        given = state.given()
        key = (repr(sorted(given.items())), session.lang)
        if session.cache and session.cache[0] == key:
            return session.cache[1]
        result = recommend(given, source="the web questionnaire", lang=session.lang,
                           catalog=self.catalog, questionnaire=self.questionnaire)
        session.cache = (key, result)
        return result

    # -- forms ---------------------------------------------------------------------------------

    def _post(self, session: Session, request: Request) -> Response:
        path = request.path
        if path == "/lang":
            lang = request.field("lang")
            if lang in LANGS:
                session.lang = lang
            return self._redirect(_local(request.field("next")))
        if path == "/forget":
            session.answers.clear()
            session.flash = session.cache = None
            return self._redirect("/")
        if not path.startswith("/q/") or path.removeprefix("/q/") not in self.questionnaire.by_id:
            return self._not_found(session)
        question = self.questionnaire.by_id[path.removeprefix("/q/")]
        state = progress(self.questionnaire, session.answers)
        if not state.reachable(question.id):
            return self._redirect(_resume(state))
        raw: Any = request.form.get("answer", []) if question.type == "multi" else request.field("answer")
        try:
            value = coerce(question, raw, state.before[question.id])
        except AnswerError as exc:
            session.flash = {"question": question.id, "error": str(exc), "raw": raw}
            return self._redirect(f"/q/{question.id}")
        session.answers[question.id] = value
        state = progress(self.questionnaire, session.answers)
        if request.field("action") == "result" or state.first_missing is None and _is_last(state, question):
            return self._redirect(_resume(state) if state.first_missing else "/result")
        index = state.index(question.id)
        if index is not None and index + 1 < len(state.path):
            return self._redirect(f"/q/{state.path[index + 1].id}")
        return self._redirect(_resume(state))


def _is_last(state: Progress, question: Question) -> bool:
    return bool(state.path) and state.path[-1].id == question.id


def _resume(state: Progress) -> str:
    return f"/q/{state.first_missing.id}" if state.first_missing else "/result"


def _local(target: str | None) -> str:
    """A redirect target on this site only."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _shown(question: Question, value: Any) -> Any:
    """The value as the form shows it: text for fields, a set of values for boxes."""
    if question.type == "multi":
        if isinstance(value, str):
            return {value}
        return set(value or [])
    if question.type == "bool":
        if isinstance(value, bool):
            return "true" if value else "false"
        return value or ""
    return "" if value is None else str(value)


def _problem(question: Question, raw: Any, error: str, lang: str) -> dict[str, str | None]:
    """Why the answer was refused: a headline, and the validation message when it says more
    than what is allowed (it is in English only)."""
    if raw is None or raw == [] or (isinstance(raw, str) and not raw.strip()):
        return {"headline": TEXT[lang]["required"], "detail": None}
    detail = error if lang == "en" and question.allowed("en") not in error else None
    return {"headline": TEXT[lang]["error_intro"], "detail": detail}


def _raw_text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, (list, tuple)):
        return ", ".join(map(str, raw))
    return str(raw)


def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    root = templates_dir()
    return Environment(
        loader=FileSystemLoader([str(root / "web"), str(root / "report")]),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html", "html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


# ---------------------------------------------------------------------------------------------
# The HTTP server (standard library).

class _Handler(BaseHTTPRequestHandler):
    server_version = "sovstack"
    sys_version = ""
    timeout = 60  # seconds a client may hold a connection idle

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        app: WebApp = self.server.app  # type: ignore[attr-defined]
        headers = {k.lower(): v for k, v in self.headers.items()}
        form: dict[str, list[str]] = {}
        if method == "POST":
            try:
                length = int(headers.get("content-length", "0"))
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY:
                self._send(Response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"form too large\n"), method)
                return
            body = self.rfile.read(length).decode("utf-8", "replace")
            form = parse_qs(body, keep_blank_values=True, max_num_fields=100)
        try:
            response = app.handle(Request(method, urlsplit(self.path).path, headers, form))
        except Exception:  # a bug: say so without the details, keep serving the others
            response = Response(HTTPStatus.INTERNAL_SERVER_ERROR, b"internal error\n",
                                [("Content-Type", "text/plain; charset=utf-8")])
        self._send(response, method)

    def _send(self, response: Response, method: str) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        for name, value in (("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"),
                            ("Referrer-Policy", "no-referrer"), ("X-Frame-Options", "DENY")):
            self.send_header(name, value)
        if not any(name == "Cache-Control" for name, _ in response.headers):
            self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:  # library modules do not print
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser that went away mid-answer (closed tab, reload) is not worth a traceback,
        # and library modules do not print.
        pass


class _Server6(_Server):
    address_family = socket.AF_INET6


@dataclass
class WebServer:
    httpd: ThreadingHTTPServer
    app: WebApp
    url: str

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        self.httpd.shutdown()

    def close(self) -> None:
        self.httpd.server_close()


def make_server(host: str = "127.0.0.1", port: int = 0, lang: str = "en", *,
                catalog: Catalog | None = None, questionnaire: Questionnaire | None = None) -> WebServer:
    """Bind the questionnaire site (not yet serving). Raises UserError if the address is not usable."""
    bare = host.strip("[]")
    server_class = _Server6 if ":" in bare else _Server
    app = WebApp(lang, host_check=HostCheck(bare, 0), catalog=catalog, questionnaire=questionnaire)
    try:
        httpd = server_class((bare, port), _Handler)
    except (OSError, OverflowError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise UserError(f"--host {host} --port {port}: cannot listen there ({reason})",
                        "choose another --port (0 picks a free one) or another --host") from None
    bound_port = httpd.server_address[1]
    app.host_check = HostCheck(bare, bound_port)
    app.cookie_name = f"sovstack_session_{bound_port}"  # cookies ignore ports: one name per server
    httpd.app = app  # type: ignore[attr-defined]
    shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(bare, f"[{bare}]" if ":" in bare else bare)
    return WebServer(httpd, app, f"http://{shown}:{bound_port}/")
