"""Application-log headers, composed at random from independent parts.

Logging libraries put a header in front of each message: a timestamp, a level word, the
logger (class, module or source file), the thread, the pid, in an order and with
separators the application's configuration chose. There are too many of them to list
(`%d %-5p [%t] %c{1.} - %m`, `%(asctime)s %(levelname)s %(name)s: %(message)s`,
`I, [time #pid]  INFO -- prog:` ...), and a daemon tails files of formats nobody
described to it. So the generator does not list them: each part is drawn on its own
(its notation, its decoration, whether it is there at all), the parts are put in one of
the usual orders or shuffled, and joined by drawn separators. Every part carries its span
label (`timestamp`, `log.level`, `log.logger`, `process.thread.name`, `process.pid`,
`process.name`, `host.name`), so the model learns what a header part looks like and
where the header ends, and the template is built from the message alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from logsentry.train.data.values import Values
from logsentry.train.example import ExampleBuilder

if TYPE_CHECKING:  # envelopes.py lists `app_header` among its writers
    from logsentry.train.data.envelopes import Body

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_ZONES = ("Z", "+00:00", "+01:00", "-05:00", "+0200", "-0700", "+05:30", " UTC", " CET", "")


def _clock(v: Values) -> tuple[int, int, int, int, int, int]:
    r = v.rng
    return (r.randrange(2012, 2030), r.randrange(1, 13), r.randrange(1, 29), r.randrange(24),
            r.randrange(60), r.randrange(60))


def _fraction(v: Values, commas: bool = True) -> str:
    """Milli- or microseconds after a dot or a comma (log4j and Python write a comma)."""
    mark = v.pick((",", ".")) if commas else "."
    return v.pick(("", f"{mark}{v.digits(3)}", f"{mark}{v.digits(3)}", f"{mark}{v.digits(6)}"))


def timestamp(v: Values) -> str:
    """A timestamp in one of the notations logging libraries write."""
    y, mo, d, h, mi, s = _clock(v)
    hms = f"{h:02d}:{mi:02d}:{s:02d}"
    kind = v.rng.randrange(13)
    if kind <= 3:  # ISO 8601, with T or a space, fraction, maybe a zone
        sep = v.pick(("T", " "))
        zone = v.pick(_ZONES) if sep == "T" or v.chance(0.3) else ""
        return f"{y:04d}-{mo:02d}-{d:02d}{sep}{hms}{_fraction(v)}{zone}"
    if kind == 4:  # common log format
        return f"{d:02d}/{_MONTHS[mo - 1]}/{y:04d}:{hms} {v.pick(('+0000', '-0700', '+0100'))}"
    if kind == 5:  # Go's log package, Nginx's error log
        return f"{y:04d}/{mo:02d}/{d:02d} {hms}{_fraction(v, commas=False)}"
    if kind == 6:  # compact date and time (Hadoop's yymmdd HHMMSS, glog-like)
        return v.pick((f"{y % 100:02d}{mo:02d}{d:02d} {h:02d}{mi:02d}{s:02d}",
                       f"{y:04d}{mo:02d}{d:02d} {hms}{_fraction(v, commas=False)}",
                       f"{y:04d}{mo:02d}{d:02d}T{h:02d}{mi:02d}{s:02d}"))
    if kind == 7:  # month-day without a year (Android, some Java layouts)
        return f"{mo:02d}-{d:02d} {hms}.{v.digits(3)}"
    if kind == 8:  # epoch seconds or milliseconds
        seconds = v.rng.randrange(1_300_000_000, 1_900_000_000)
        return v.pick((str(seconds), f"{seconds}{v.digits(3)}", f"{seconds}.{v.digits(3)}",
                       f"{seconds}.{v.digits(6)}"))
    if kind == 9:  # C's asctime, Go's time.ANSIC, Ruby's Time#to_s
        day = f"{d:2d}" if v.chance(0.5) else f"{d:02d}"
        weekday = f"{v.pick(_DAYS)} {_MONTHS[mo - 1]} {day}"
        return v.pick((f"{weekday} {hms} {y:04d}",
                       f"{weekday} {hms}{_fraction(v, False)} {y:04d}",
                       f"{y:04d}-{mo:02d}-{d:02d} {hms} {v.pick(('+0000', '-0500', '+0100'))}"))
    if kind == 10:  # day first, month spelt or numeric (European layouts, .NET)
        return v.pick((f"{d:02d}-{_MONTHS[mo - 1]}-{y:04d} {hms}{_fraction(v, False)}",
                       f"{d:02d}.{mo:02d}.{y:04d} {hms}",
                       f"{mo:02d}/{d:02d}/{y:04d} {hms}",
                       f"{d:02d} {_MONTHS[mo - 1]} {y:04d} {hms}{_fraction(v)}"))
    if kind == 11:  # syslog-like month and day, then a year or a fraction
        return f"{_MONTHS[mo - 1]} {d:2d} {hms}{v.pick(('', f'.{v.digits(3)}', f' {y}'))}"
    return f"{hms}{_fraction(v)}"  # the time only


_LEVELS = (
    ("INFO", "Info", "info", "I", "INF", "information", "Information"),
    ("WARN", "WARNING", "Warning", "warn", "warning", "W", "WRN"),
    ("ERROR", "Error", "error", "ERR", "err", "E", "ERRO"),
    ("DEBUG", "Debug", "debug", "DBG", "D", "dbug"),
    ("TRACE", "trace", "Trace", "T", "TRC", "VERBOSE", "V"),
    ("FATAL", "fatal", "F", "FTL", "CRITICAL", "critical", "CRIT", "crit", "EMERG", "ALERT"),
    ("NOTICE", "notice", "N", "SEVERE", "FINE", "panic"),
)


def level(v: Values) -> str:
    """A level word in one of its many spellings."""
    group = _LEVELS[min(v.rng.randrange(9), len(_LEVELS) - 1)]
    return v.pick(group)


_JAVA_ORGS = ("org.apache", "com.example", "io.netty", "org.springframework", "com.acme",
              "org.eclipse.jetty", "net.shop", "io.micronaut", "com.zaxxer", "org.hibernate",
              "de.firma", "io.vertx", "org.keycloak", "com.corp.platform")
_PACKAGES = ("core", "web", "server", "auth", "security", "http", "api", "service", "db", "jdbc",
             "cache", "scheduler", "mail", "util", "config", "session", "handler", "filter",
             "transport", "cluster", "storage", "net", "io", "rpc", "ui", "admin", "login")
_CLASS_WORDS = ("User", "Auth", "Login", "Session", "Request", "Http", "Server", "Client",
                "Connection", "Pool", "Cache", "Token", "Account", "Job", "Task", "Event",
                "Message", "Queue", "Data", "Storage", "Config", "Security", "Access",
                "Gateway", "Proxy", "Router", "Filter", "Servlet", "Resource", "Invoice")
_CLASS_ENDS = ("Service", "Controller", "Manager", "Handler", "Filter", "Factory", "Impl",
               "Listener", "Processor", "Provider", "Worker", "Executor", "Repository",
               "Dispatcher", "Valve", "Endpoint", "Helper", "Adapter", "")
_MODULES = ("app", "api", "worker", "auth", "views", "models", "tasks", "server", "db",
            "celery", "django", "flask", "uvicorn", "gunicorn", "urllib3", "requests",
            "sqlalchemy", "asyncio", "aiohttp", "root", "main", "scheduler", "security")
_FILES = ("main", "server", "handler", "auth", "client", "conn", "proxy", "store", "log",
          "router", "session", "util", "api", "grpc", "http", "watcher", "controller")


def _java_class(v: Values) -> str:
    cls = v.pick(_CLASS_WORDS) + v.pick(_CLASS_ENDS)
    packages = [*v.pick(_JAVA_ORGS).split("."),
                *(v.pick(_PACKAGES) for _ in range(v.rng.randrange(0, 4)))]
    style = v.rng.random()
    if style < 0.45:
        return ".".join([*packages, cls])
    if style < 0.75:  # logback's abbreviated packages: o.a.h.s.FooService
        return ".".join([*(p[0] for p in packages), cls])
    if style < 0.85:
        return ".".join([*packages, cls]) + "$" + v.pick(("1", "Worker", "Inner", "2"))
    return cls


def logger(v: Values) -> str:
    """A logger name as one of the usual libraries writes it."""
    style = v.rng.randrange(10)
    if style <= 3:  # Java: log4j, logback, JUL
        return _java_class(v)
    if style <= 5:  # Python logging: a module path
        return ".".join(v.pick(_MODULES) for _ in range(v.rng.randrange(1, 4)))
    if style == 6:  # Go: the calling file and line
        name = f"{v.pick(_FILES)}{v.pick(('', '_' + v.pick(_FILES)))}.go:{v.rng.randrange(1, 2000)}"
        return name if v.chance(0.7) else f"{v.pick(_PACKAGES)}/{name}"
    if style == 7:  # .NET: a namespace and class
        return ".".join((v.pick(("Microsoft", "MyCompany", "Contoso", "App", "System")),
                         v.pick(("AspNetCore", "Api", "Web", "Services", "Data", "Identity")),
                         v.pick(_CLASS_WORDS) + v.pick(_CLASS_ENDS)))
    if style == 8:  # Ruby and Rails: a class, maybe namespaced
        names = [v.pick(_CLASS_WORDS) for _ in range(v.rng.randrange(0, 2))]
        return "::".join([*names, v.pick(_CLASS_WORDS) + v.pick(_CLASS_ENDS)])
    # Node: a package or a colon-separated debug namespace
    return v.pick((f"{v.pick(_MODULES)}:{v.pick(_PACKAGES)}",
                   f"@{v.pick(_MODULES)}/{v.pick(_PACKAGES)}",
                   f"{v.pick(_PACKAGES)}-{v.pick(_PACKAGES)}", v.pick(_PACKAGES)))


def thread(v: Values) -> str:
    """A thread name or id."""
    r = v.rng
    return v.pick((
        "main", f"pool-{r.randrange(1, 20)}-thread-{r.randrange(1, 200)}",
        f"Thread-{r.randrange(300)}",
        f"http-nio-{v.pick(('8080', '8443', '9090'))}-exec-{r.randrange(1, 200)}",
        f"qtp{v.digits(9)}-{r.randrange(10, 400)}", f"worker-{r.randrange(64)}",
        f"ForkJoinPool.commonPool-worker-{r.randrange(1, 32)}", f"scheduling-{r.randrange(1, 8)}",
        f"reactor-http-epoll-{r.randrange(1, 16)}", "MainThread",
        f"grpc-default-executor-{r.randrange(20)}", str(r.randrange(1, 70000)),
        f"0x{v.hexstr(8)}",
        f"Timer-{r.randrange(4)}",
        f"{v.pick(_PACKAGES)}-{r.randrange(1, 30)}",
        f"DefaultDispatcher-worker-{r.randrange(1, 16)}",
    ))


_Part = Callable[[ExampleBuilder, Values, "Body"], None]


def _bracketed(b: ExampleBuilder, value: str, label: str, v: Values, weights: tuple[float, ...],
               keys: tuple[str, ...] = ()) -> None:
    """`value` bare, in [], (), <> or {} or after `key=`; the span is the value alone."""
    kind = v.rng.choices(("bare", "[]", "()", "<>", "key"), weights)[0]
    if kind == "key" and keys:
        b.const(f"{v.pick(keys)}=").var(value, label)
    elif kind in ("[]", "()", "<>"):
        b.const(kind[0]).var(value, label).const(kind[1])
    else:
        b.var(value, label)


def _timestamp_part(b: ExampleBuilder, v: Values, body: Body) -> None:
    _bracketed(b, timestamp(v), "timestamp", v, (0.7, 0.28, 0.01, 0.0, 0.03), ("time", "ts", "t"))


def _level_part(b: ExampleBuilder, v: Values, body: Body) -> None:
    word = level(v)
    if v.chance(0.15) and len(word) < 5:  # `%-5p`: padded to five
        b.var(word, "log.level").const(" " * (5 - len(word)))
        return
    _bracketed(b, word, "log.level", v, (0.55, 0.3, 0.04, 0.05, 0.06), ("level", "lvl", "severity"))


def _logger_part(b: ExampleBuilder, v: Values, body: Body) -> None:
    name = logger(v)
    if v.chance(0.08):  # .NET's event id after the category: `Namespace.Class[0]`
        b.var(name, "log.logger").const("[").var(str(v.rng.randrange(0, 30)), "variable")
        b.const("]")
        return
    _bracketed(b, name, "log.logger", v, (0.7, 0.2, 0.06, 0.01, 0.03),
               ("logger", "module", "caller"))


def _thread_part(b: ExampleBuilder, v: Values, body: Body) -> None:
    _bracketed(b, thread(v), "process.thread.name", v, (0.2, 0.6, 0.12, 0.0, 0.08),
               ("tid", "thread", "thread_id"))


def _pid_part(b: ExampleBuilder, v: Values, body: Body) -> None:
    pid = body.pid or v.pid()
    if v.chance(0.25):  # `prog[1234]`, `prog(1234)`
        b.var(body.program, "process.name")
        open_, close = v.pick((("[", "]"), ("(", ")")))
        b.const(open_).var(pid, "process.pid").const(close)
        return
    if v.chance(0.1):
        b.const("#").var(pid, "process.pid")
        return
    _bracketed(b, pid, "process.pid", v, (0.35, 0.4, 0.1, 0.0, 0.15), ("pid", "PID"))


def _host_part(b: ExampleBuilder, v: Values, body: Body) -> None:
    _bracketed(b, v.short_host(), "host.name", v, (0.8, 0.15, 0.0, 0.0, 0.05), ("host",))


def _program_part(b: ExampleBuilder, v: Values, body: Body) -> None:
    _bracketed(b, body.program, "process.name", v, (0.75, 0.2, 0.05, 0.0, 0.0))


# Orders that logging libraries' default and common layouts use, by their parts:
# t timestamp, l level, g logger, h thread, p pid, n host, r program.
_LAYOUTS = (
    "tlhg", "thlg", "tlg", "tgl", "tl", "lt", "tlpg", "tphlg", "tplg", "ltg", "tnrl", "tlp",
    "lg", "tg", "thl", "lpt", "tlgh", "plg", "tnl", "trl", "tpl", "ltpg", "l", "t",
)
_PARTS: dict[str, _Part] = {
    "t": _timestamp_part, "l": _level_part, "g": _logger_part, "h": _thread_part,
    "p": _pid_part, "n": _host_part, "r": _program_part,
}
# How often each part is there in a shuffled layout.
_PRESENCE = {"t": 0.9, "l": 0.8, "g": 0.55, "h": 0.35, "p": 0.25, "n": 0.1, "r": 0.1}
_SEPARATORS = (" ", " ", " ", "  ", " - ", " | ", ": ", " ", "\t", " : ", " -- ")
_ENDS = (": ", " - ", " ", " | ", " -- ", ":  ", " > ", " ")


def _layout(v: Values) -> str:
    if v.chance(0.75):
        return v.pick(_LAYOUTS)
    # Any order of any parts: formats nobody configured the usual way.
    parts = [part for part, p in _PRESENCE.items() if v.chance(p)] or ["l"]
    v.rng.shuffle(parts)
    return "".join(parts)


def app_header(b: ExampleBuilder, body: Body, v: Values) -> None:
    """Write a random application-log header in front of `body` into `b`."""
    layout = _layout(v)
    if v.chance(0.08):  # Ruby's Logger: `I, [2024-01-02T15:04:05.123456 #1234]  INFO -- prog: `
        word = v.pick(("INFO", "WARN", "ERROR", "DEBUG", "FATAL"))
        b.var(word[0], "log.level").const(", [").var(timestamp(v), "timestamp").const(" #")
        b.var(body.pid or v.pid(), "process.pid").const("] " + " " * (5 - len(word)))
        b.var(word, "log.level").const(" -- ").var(body.program, "process.name").const(": ")
        return
    separator = v.pick(_SEPARATORS)
    # The daemon's envelope parser takes a leading ISO or ctime timestamp off the line (and
    # the spaces after it): the model then reads the header from the separator on.
    cut = len(layout) > 1 and layout[0] == "t" and v.chance(0.3)
    for i, part in enumerate(layout):
        if i:
            gap = separator if v.chance(0.85) else v.pick(_SEPARATORS)
            b.const(gap.lstrip() if cut and i == 1 else gap)
        if not (cut and i == 0):
            _PARTS[part](b, v, body)
    b.const(v.pick(_ENDS))
