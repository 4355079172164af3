# ruff: noqa: E501  (templates are log lines; wrapping them would hide their shape)
"""Application families: databases (MySQL/MariaDB, PostgreSQL, MongoDB, Redis), FTP
servers (vsftpd, ProFTPD, Pure-FTPd), JSON application logs, Windows security events
forwarded as syslog, xrdp, Webmin, and application chatter (Java/Python stack lines,
debug output) that must come out as `other`.
"""

from __future__ import annotations

from logsentry.train.data.template import Family, make_family

_MY = "{ts_mysql:ts} {count} [{|Note|Warning}] {|[MY-010926] [Server] |[MY-013360] [Server] |}"
MYSQL = make_family("mysql", "apps", ("mysqld", "mariadbd", "mysql"), "file", [
    ("login_failed", (3.0, [
        _MY + "Access denied for user '{plain_user:user}'@'{ip:sip}' (using password: {|YES|NO})",
        _MY + "Access denied for user '{plain_user:user}'@'{hostname:saddr}' (using password: YES)",
        "{ts_mysql:ts} {count} [Warning] Access denied for user '{plain_user:user}'@'localhost' (using password: YES)",
        "{ts_mysql:ts} {count} [Warning] Aborted connection {count} to db: 'unconnected' user: '{plain_user:user}' host: '{ip:sip}' (Got an error reading communication packets)",
        "{ts_mysql:ts} {count} [Note] [MY-010914] [Server] Bad handshake",
        "{ts_pg:ts} {count} [Warning] Access denied for user '{plain_user:user}'@'{ip:sip}' (using password: YES)",
    ])),
    ("connection_closed", [
        "{ts_mysql:ts} {count} [Warning] Aborted connection {count} to db: '{db_name}' user: '{plain_user:user}' host: '{ip:sip}' (Got timeout reading communication packets)",
        _MY + "Aborted connection {count} to db: '{db_name}' user: '{plain_user:user}' host: '{hostname:saddr}' (Got an error writing communication packets)",
    ]),
    ("connection_rejected", [
        _MY + "Host '{ip:sip}' is blocked because of many connection errors; unblock with 'mysqladmin flush-hosts'",
        _MY + "Host '{hostname:saddr}' is not allowed to connect to this MySQL server",
    ]),
    ("service_start", ["{ts_mysql:ts} 0 [System] [MY-010931] [Server] /usr/sbin/mysqld: ready for connections. Version: '8.0.{count}'  socket: '/var/run/mysqld/mysqld.sock'  port: 3306  MySQL Community Server - GPL.",
                       "{ts_mysql:ts} 0 [Note] /usr/sbin/mariadbd: ready for connections."]),
    ("service_stop", ["{ts_mysql:ts} 0 [System] [MY-013172] [Server] Received SHUTDOWN from user {plain_user:user}. Shutting down mysqld (Version: 8.0.{count})."]),
    ("other", [
        "{ts_mysql:ts} 0 [Warning] [MY-010055] [Server] IP address '{ip:sip}' could not be resolved: Name or service not known",
        "{ts_mysql:ts} 0 [Note] InnoDB: Buffer pool(s) load completed at {ts_pg}",
        "{ts_mysql:ts} {count} [Warning] [MY-010453] [Server] root@localhost is created with an empty password !",
    ]),
])

POSTGRESQL = make_family("postgresql", "apps", ("postgres", "postgresql"), "file", [
    ("login_failed", (3.0, [
        "{ts_pg:ts} [{pid:pid}] FATAL:  password authentication failed for user \"{plain_user:user}\"",
        "{ts_pg:ts} [{pid:pid}] {plain_user:user}@{db_name} FATAL:  password authentication failed for user \"{plain_user:user}\"",
        "{ts_pg:ts} [{pid:pid}] FATAL:  role \"{plain_user:user}\" does not exist",
        "{ts_pg:ts} [{pid:pid}] FATAL:  Peer authentication failed for user \"{plain_user:user}\"",
        "{ts_pg:ts} [{pid:pid}] FATAL:  {|password|md5|SCRAM} authentication failed for user \"{plain_user:user}\"",
        "FATAL:  password authentication failed for user \"{plain_user:user}\"",
    ])),
    ("connection_rejected", [
        "{ts_pg:ts} [{pid:pid}] FATAL:  no pg_hba.conf entry for host \"{ip:sip}\", user \"{plain_user:user}\", database \"{db_name}\", {|SSL off|SSL encryption|no encryption}",
        "{ts_pg:ts} [{pid:pid}] FATAL:  too many connections for role \"{plain_user:user}\"",
        "{ts_pg:ts} [{pid:pid}] LOG:  invalid length of startup packet",
        "{ts_pg:ts} [{pid:pid}] FATAL:  unsupported frontend protocol {count}.{count}: server supports 3.0 to 3.0",
    ]),
    ("connection_opened", ["{ts_pg:ts} [{pid:pid}] LOG:  connection received: host={ip:sip} port={port:sport}"]),
    ("login_success", ["{ts_pg:ts} [{pid:pid}] LOG:  connection authorized: user={plain_user:user} database={db_name}{| SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)| application_name=psql|}"]),
    ("connection_closed", ["{ts_pg:ts} [{pid:pid}] LOG:  disconnection: session time: 0:00:0{small}.{count} user={plain_user:user} database={db_name} host={ip:sip} port={port:sport}"]),
    ("service_start", ["{ts_pg:ts} [{pid:pid}] LOG:  database system is ready to accept connections"]),
    ("service_stop", ["{ts_pg:ts} [{pid:pid}] LOG:  received fast shutdown request", "{ts_pg:ts} [{pid:pid}] LOG:  database system is shut down"]),
    ("other", [
        "{ts_pg:ts} [{pid:pid}] DETAIL:  Connection matched pg_hba.conf line {count}: \"host all all 0.0.0.0/0 md5\"",
        "{ts_pg:ts} [{pid:pid}] DETAIL:  Role \"{plain_user}\" does not exist.",
        "{ts_pg:ts} [{pid:pid}] LOG:  checkpoint complete: wrote {count} buffers ({small}.{small}%); 0 WAL file(s) added, 0 removed, {small} recycled; write={duration_s} s, sync={duration_s} s, total={duration_s} s",
        "{ts_pg:ts} [{pid:pid}] LOG:  duration: {duration_ms}.{small}12 ms  statement: SELECT * FROM {word} WHERE id = {count}",
        "{ts_pg:ts} [{pid:pid}] ERROR:  relation \"{word}\" does not exist at character {count}",
    ]),
])

_MG = '{{"t":{{"$date":"{ts_mysql:ts}"}},"s":"{|I|W}","c":"{|ACCESS|NETWORK}","id":{count},"ctx":"conn{count}","msg":'
MONGODB = make_family("mongodb", "apps", ("mongod",), "json", [
    ("login_failed", (3.0, [
        _MG + '"Authentication failed","attr":{{"mechanism":"SCRAM-SHA-{|1|256}","speculative":false,"principalName":"{plain_user:user}","authenticationDatabase":"{db_name}","remote":"{ipv4:sip}:{port:sport}","extraInfo":{{}},"error":"AuthenticationFailed: SCRAM authentication failed, storedKey mismatch"}}}}',
        _MG + '"Authentication failed","attr":{{"mechanism":"SCRAM-SHA-256","principalName":"{plain_user:user}","authenticationDatabase":"admin","remote":"{ipv4:sip}:{port:sport}","error":"UserNotFound: Could not find user \\"{plain_user}\\" for db \\"admin\\""}}}}',
        "{ts_mysql:ts} I ACCESS   [conn{count}] SASL SCRAM-SHA-1 authentication failed for {plain_user:user} on {db_name} from client {ipv4:sip}:{port:sport} ; AuthenticationFailed: SCRAM-SHA-1 authentication failed, storedKey mismatch",
        "{ts_mysql:ts} I ACCESS   [conn{count}] Unauthorized: not authorized on admin to execute command {{ listDatabases: 1 }}",
    ])),
    ("login_success", [_MG + '"Authentication succeeded","attr":{{"mechanism":"SCRAM-SHA-256","speculative":true,"principalName":"{plain_user:user}","authenticationDatabase":"admin","remote":"{ipv4:sip}:{port:sport}","extraInfo":{{}}}}}}']),
    ("connection_opened", [_MG + '"Connection accepted","attr":{{"remote":"{ipv4:sip}:{port:sport}","uuid":"{uuid}","connectionId":{count},"connectionCount":{count}}}}}']),
    ("connection_closed", [_MG + '"Connection ended","attr":{{"remote":"{ipv4:sip}:{port:sport}","uuid":"{uuid}","connectionId":{count},"connectionCount":{count}}}}}']),
    ("other", [_MG + '"client metadata","attr":{{"remote":"{ipv4:sip}:{port:sport}","client":"conn{count}","doc":{{"driver":{{"name":"nodejs","version":"{version}"}}}}}}}}',
               _MG + '"Slow query","attr":{{"type":"command","ns":"{db_name}.{word}","durationMillis":{duration_ms}}}}}']),
], escape_json=True)

REDIS = make_family("redis", "apps", ("redis-server", "redis"), "file", [
    ("intrusion_detected", [
        "{pid:pid}:M {ts_redis:ts} # Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: commands to Redis. This is likely due to an attacker attempting to use Cross Protocol Scripting to compromise your Redis instance. Connection from {ip:sip}:{port:sport} aborted.",
    ]),
    ("login_failed", [
        "{pid:pid}:M {ts_redis:ts} # AUTH failed: WRONGPASS invalid username-password pair or user is disabled. (client {ip:sip}:{port:sport})",
    ]),
    ("other", (2.0, [
        "{pid:pid}:M {ts_redis:ts} * {small}0 changes in {count} seconds. Saving...",
        "{pid:pid}:M {ts_redis:ts} * Background saving started by pid {pid}",
        "{pid:pid}:C {ts_redis:ts} * DB saved on disk",
        "{pid:pid}:M {ts_redis:ts} * Ready to accept connections tcp",
        "{pid:pid}:M {ts_redis:ts} # WARNING Memory overcommit must be enabled!",
    ])),
])

_VSF = "{ts_apache_error:ts} [pid {pid:pid}] "
VSFTPD = make_family("vsftpd", "apps", ("vsftpd",), "file", [
    ("login_failed", (3.0, [
        _VSF + "[{plain_user:user}] FAIL LOGIN: Client \"{ip:sip}\"",
        _VSF + "[{plain_user:user}] FAIL LOGIN: Client \"::ffff:{ipv4:sip}\"",
        _VSF + "[{plain_user:user}] FAIL LOGIN: Client \"{ip:sip}\", \"Login incorrect\"",
    ])),
    ("login_success", [_VSF + "[{plain_user:user}] OK LOGIN: Client \"{ip:sip}\"", _VSF + "[ftp] OK LOGIN: Client \"{ip:sip}\", anon password \"{email}\""]),
    ("connection_opened", [_VSF + "CONNECT: Client \"{ip:sip}\"", _VSF + "CONNECT: Client \"::ffff:{ipv4:sip}\""]),
    ("other", [
        _VSF + "[{plain_user:user}] OK UPLOAD: Client \"{ip:sip}\", \"{path:path}\", {size} bytes, {count}.{small}Kbyte/sec",
        _VSF + "[{plain_user:user}] OK DOWNLOAD: Client \"{ip:sip}\", \"{path:path}\", {size} bytes, {count}.{small}Kbyte/sec",
        _VSF + "[{plain_user:user}] FAIL UPLOAD: Client \"{ip:sip}\", \"{path:path}\", 0.00Kbyte/sec",
    ]),
])

_PRO = "{hostname} (::ffff:{ipv4#s:sip}[::ffff:{ipv4#s:sip}]) - "
_PRO2 = "{hostname} ({ip#s:sip}[{ip#s:sip}]) - "
PROFTPD = make_family("proftpd", "apps", ("proftpd",), "syslog", [
    ("login_failed", (3.0, [
        _PRO2 + "USER {plain_user:user} (Login failed): Incorrect password",
        _PRO + "USER {plain_user:user} (Login failed): Incorrect password",
        _PRO2 + "Maximum login attempts ({small}) exceeded, connection refused",
        _PRO2 + "USER {plain_user:user}: no such user found from {ip#s:sip} [{ip#s:sip}] to {ip:dip}:21",
        _PRO2 + "SECURITY VIOLATION: Root login attempted",
    ])),
    ("login_success", [_PRO2 + "USER {plain_user:user}: Login successful."]),
    ("session_opened", [_PRO2 + "FTP session opened."]),
    ("session_closed", [_PRO2 + "FTP session closed."]),
    ("other", [_PRO2 + "Preparing to chroot to directory '/home/{plain_user}'", "ProFTPD 1.3.{small} (stable) (built Mon Jan 01 2024) standalone mode STARTUP"]),
])

PUREFTPD = make_family("pure_ftpd", "apps", ("pure-ftpd",), "syslog", [
    ("login_failed", (3.0, [
        "(?@{ip:sip}) [WARNING] Authentication failed for user [{plain_user:user}]",
        "(?@{hostname:saddr}) [WARNING] Authentication failed for user [{plain_user:user}]",
        "(?@{ip:sip}) [WARNING] Sorry, cleartext sessions and weak ciphers are not accepted on this server.",
    ])),
    ("login_success", ["(?@{ip:sip}) [INFO] {plain_user:user} is now logged in"]),
    ("connection_opened", ["(?@{ip#s:sip}) [INFO] New connection from {ip#s:sip}"]),
    ("session_closed", ["({plain_user:user}@{ip:sip}) [INFO] Logout."]),
    ("connection_closed", ["(?@{ip:sip}) [INFO] Logout.", "({plain_user:user}@{ip:sip}) [INFO] Timeout - try typing a little faster next time"]),
    ("other", ["({plain_user:user}@{ip:sip}) [NOTICE] {path:path} uploaded  ({size} bytes, {count}.{small}KB/sec)"]),
])

JSON_APP = make_family("json_app", "apps", ("app", "api", "node", "python3", "gunicorn", "java"), "json", [
    ("login_failed", (3.0, [
        '{{"level":"{|warn|warning|error|info}","ts":"{ts_iso:ts}","msg":"{|login failed|authentication failed|invalid credentials|Login failed}","user":"{user:user}","ip":"{ip:sip}"}}',
        '{{"timestamp":"{ts_iso:ts}","level":"WARN","event":"authentication_failure","username":"{user:user}","client_ip":"{ip:sip}","user_agent":"{user_agent:ua}","reason":"{|bad_password|unknown_user|mfa_failed}"}}',
        '{{"time":"{ts_iso:ts}","severity":"warning","message":"Failed login attempt","context":{{"email":"{email:user}","remote_addr":"{ip:sip}"}}}}',
        '{{"@timestamp":"{ts_iso:ts}","log.level":"warn","message":"Invalid password for user {user:user}","source":{{"ip":"{ip:sip}","port":{port:sport}}},"service":"{word}"}}',
        '{{"lvl":"eror","t":"{ts_iso:ts}","msg":"login attempt rejected","username":"{user:user}","remote":"{ip:sip}:{port:sport}","attempt":{small}}}',
        'level=warning ts={ts_iso:ts} msg="authentication failed" user={plain_user:user} remote_ip={ip:sip}',
        '{ts_iso:ts} WARN  [auth] Login failed for user "{user:user}" from {ip:sip}: invalid password',
    ])),
    ("login_success", [
        '{{"level":"info","ts":"{ts_iso:ts}","msg":"{|login succeeded|user logged in|authenticated}","user":"{user:user}","ip":"{ip:sip}"}}',
        '{{"timestamp":"{ts_iso:ts}","level":"INFO","event":"login","username":"{user:user}","client_ip":"{ip:sip}","session":"{session_id}"}}',
        'level=info ts={ts_iso:ts} msg="user authenticated" user={plain_user:user} remote_ip={ip:sip} method={|password|oidc|token}',
    ]),
    ("web_request", (2.0, [
        '{{"time":"{ts_iso:ts}","level":"info","msg":"request completed","method":"{method:method}","path":"{url_path:url}","status":{status:status},"remote_addr":"{ip:sip}","duration_ms":{duration_ms},"request_id":"{uuid}"}}',
        '{{"ts":{ts_epoch:ts},"caller":"http/server.go:{count}","level":"info","method":"{method:method}","uri":"{url_path:url}","status":{status:status},"ip":"{ip:sip}","latency":"{duration_ms}ms","user_agent":"{user_agent:ua}"}}',
        'time="{ts_iso:ts}" level=info msg="{method:method} {url_path:url}" status={status:status} ip={ip:sip} took={duration_ms}ms',
    ])),
    ("web_attack_attempt", [
        '{{"time":"{ts_iso:ts}","level":"warn","msg":"blocked request","rule":"{|sqli|xss|path_traversal|rce}","method":"{method:method}","path":"{attack_url:url}","remote_addr":"{ip:sip}"}}',
        '{{"time":"{ts_iso:ts}","level":"info","msg":"request completed","method":"{method:method}","path":"{attack_url:url}","status":{status:status},"remote_addr":"{ip:sip}","duration_ms":{duration_ms}}}',
    ]),
    ("rate_limited", [
        '{{"level":"warn","ts":"{ts_iso:ts}","msg":"rate limit exceeded","ip":"{ip:sip}","limit":{count},"window":"{small}m"}}',
        'level=warning ts={ts_iso:ts} msg="too many requests" remote_ip={ip:sip} path={url_path:url}',
    ]),
    ("user_created", ['{{"level":"info","ts":"{ts_iso:ts}","msg":"user created","user":"{user:user}","by":"{user#a:euser}"}}']),
    ("user_deleted", ['{{"level":"info","ts":"{ts_iso:ts}","msg":"user deleted","user":"{user:user}","by":"{user#a:euser}"}}']),
    ("password_changed", ['{{"level":"info","ts":"{ts_iso:ts}","msg":"password changed","user":"{user:user}","ip":"{ip:sip}"}}']),
    ("config_change", ['{{"level":"info","ts":"{ts_iso:ts}","msg":"configuration reloaded","file":"{path:path}"}}']),
    ("other", (3.0, [
        '{{"level":"debug","ts":"{ts_iso:ts}","msg":"cache {|hit|miss}","key":"{word}:{hex_id}","ttl":{count}}}',
        '{{"level":"info","ts":"{ts_iso:ts}","msg":"job finished","job":"{word}","duration_ms":{duration_ms},"items":{count}}}',
        '{{"level":"error","ts":"{ts_iso:ts}","msg":"upstream error","error":"dial tcp {ipv4}:{port}: connect: connection refused","retry":{small}}}',
        '{{"level":"info","ts":"{ts_iso:ts}","msg":"connected to database","host":"{short_host}","pool_size":{small}}}',
        'level=debug ts={ts_iso:ts} caller={word}.go:{count} msg="tick" queue={word} depth={count}',
    ])),
], escape_json=True)

_WIN_HEAD = "{|Security-Auditing|Microsoft-Windows-Security-Auditing|MSWinEventLog}: "
WINDOWS = make_family("windows_security", "apps", ("Microsoft-Windows-Security-Auditing", "MSWinEventLog", "nxlog", "winlogbeat"), "syslog", [
    ("login_failed", (3.0, [
        _WIN_HEAD + "4625: AUDIT_FAILURE An account failed to log on. Subject: Security ID: S-1-0-0 Account Name: - Account Domain: - Logon ID: 0x0 Logon Type: {logon_type} Account For Which Logon Failed: Security ID: S-1-0-0 Account Name: {windows_user:user} Account Domain: {domain} Failure Information: Failure Reason: Unknown user name or bad password. Status: {status_code_hex} Sub Status: {status_code_hex} Process Information: Caller Process ID: 0x0 Caller Process Name: - Network Information: Workstation Name: {workstation} Source Network Address: {ip:sip} Source Port: {port:sport}",
        "MSWinEventLog\t1\tSecurity\t{count}\t{ts_apache_error:ts}\t4625\tMicrosoft-Windows-Security-Auditing\t{domain}\\{windows_user:user}\tN/A\tFailure Audit\t{workstation}\tLogon\t\tAn account failed to log on.    Account Name: {windows_user:user}    Source Network Address: {ip:sip}    Source Port: {port:sport}",
        "EventID=4625 {ts_windows:ts} LogonType={logon_type} TargetUserName={windows_user:user} TargetDomainName={domain} IpAddress={ip:sip} IpPort={port:sport} WorkstationName={workstation} Status={status_code_hex}",
        "{ts_iso:ts} {workstation} Microsoft-Windows-Security-Auditing[{pid:pid}]: 4771: Kerberos pre-authentication failed. Account Information: Security ID: {domain}\\{windows_user:user} Account Name: {windows_user:user} Service Information: Service Name: krbtgt/{domain} Network Information: Client Address: ::ffff:{ipv4:sip} Client Port: {port:sport}",
        _WIN_HEAD + "4740: A user account was locked out. Account That Was Locked Out: Security ID: S-1-5-21-{count}-{count} Account Name: {windows_user:user} Additional Information: Caller Computer Name: {workstation}",
    ])),
    ("login_success", (2.0, [
        _WIN_HEAD + "4624: AUDIT_SUCCESS An account was successfully logged on. Subject: Security ID: S-1-5-18 Account Name: {workstation}$ Logon Information: Logon Type: {logon_type} New Logon: Security ID: S-1-5-21-{count}-{count} Account Name: {windows_user:user} Account Domain: {domain} Logon ID: 0x{hex_id} Network Information: Workstation Name: {workstation} Source Network Address: {ip:sip} Source Port: {port:sport}",
        "EventID=4624 {ts_windows:ts} LogonType={logon_type} TargetUserName={windows_user:user} TargetDomainName={domain} IpAddress={ip:sip} IpPort={port:sport}",
    ])),
    ("session_closed", [_WIN_HEAD + "4634: An account was logged off. Subject: Security ID: S-1-5-21-{count} Account Name: {windows_user:user} Account Domain: {domain} Logon ID: 0x{hex_id} Logon Type: {logon_type}",
                        _WIN_HEAD + "4647: User initiated logoff: Subject: Account Name: {windows_user:user} Account Domain: {domain}"]),
    ("user_created", [_WIN_HEAD + "4720: A user account was created. Subject: Account Name: {windows_user#a:euser} Account Domain: {domain} New Account: Security ID: S-1-5-21-{count} Account Name: {windows_user:user} Account Domain: {domain}"]),
    ("user_deleted", [_WIN_HEAD + "4726: A user account was deleted. Subject: Account Name: {windows_user#a:euser} Target Account: Account Name: {windows_user:user} Account Domain: {domain}"]),
    ("group_changed", [_WIN_HEAD + "{|4728|4732|4756}: A member was added to a security-enabled {|global|local|universal} group. Subject: Account Name: {windows_user#a:euser} Member: Security ID: S-1-5-21-{count} Account Name: CN={windows_user:user},CN=Users,DC={word},DC=local Group: Group Name: {|Administrators|Domain Admins|Remote Desktop Users}",
                       _WIN_HEAD + "4733: A member was removed from a security-enabled local group. Subject: Account Name: {windows_user#a:euser} Member: Account Name: {windows_user:user} Group: Group Name: Administrators"]),
    ("password_changed", [_WIN_HEAD + "{|4723|4724}: An attempt was made to {|change|reset} an account's password. Subject: Account Name: {windows_user#a:euser} Target Account: Account Name: {windows_user:user} Account Domain: {domain}"]),
    ("process_started", [_WIN_HEAD + "4688: A new process has been created. Creator Subject: Account Name: {windows_user:user} Account Domain: {domain} Process Information: New Process ID: 0x{hexstr2}{hexstr2} New Process Name: {win_exe:path} Token Elevation Type: %%1936 Creator Process Name: C:\\Windows\\explorer.exe Process Command Line: {win_cmd:cmd}"]),
    ("config_change", [_WIN_HEAD + "7045: A service was installed in the system. Service Name: {word} Service File Name: {win_exe:path} Service Type: user mode service Service Start Type: auto start Service Account: LocalSystem",
                       _WIN_HEAD + "4719: System audit policy was changed. Subject: Account Name: {windows_user:user} Account Domain: {domain}"]),
    ("other", [_WIN_HEAD + "5156: The Windows Filtering Platform has permitted a connection. Application Information: Process ID: {pid} Application Name: \\device\\harddiskvolume2\\windows\\system32\\svchost.exe Network Information: Direction: Inbound Source Address: {ip} Source Port: {port} Destination Address: {ip} Destination Port: {port}",
               _WIN_HEAD + "4672: Special privileges assigned to new logon. Subject: Security ID: S-1-5-18 Account Name: SYSTEM Account Domain: NT AUTHORITY Logon ID: 0x3e7"]),
])

XRDP = make_family("xrdp", "apps", ("xrdp", "xrdp-sesman"), "file", [
    ("login_failed", (3.0, [
        "[{ts_xrdp:ts}] [INFO ] xrdp_wm_log_msg: login failed for user: {plain_user:user}",
        "[{ts_xrdp:ts}] [ERROR] pam_authenticate failed: Authentication failure",
        "[{ts_xrdp:ts}] [INFO ] AUTHFAIL: user={plain_user:user} ip={ip:sip} port={port:sport} time={count}",
        "[{ts_xrdp:ts}] [ERROR] Login failed for display {small}",
        "[{ts_xrdp:ts}] [INFO ] ++ terminated session: username {plain_user:user}, display :{small}0.0, session_pid {pid}, ip {ip:sip}:{port:sport} - socket: 12",
    ])),
    ("login_success", [
        "[{ts_xrdp:ts}] [INFO ] ++ created session (access granted): username {plain_user:user}, ip {ip:sip}:{port:sport} - socket: {small}",
        "[{ts_xrdp:ts}] [INFO ] Access permitted for user: {plain_user:user}",
    ]),
    ("connection_opened", [
        "[{ts_xrdp:ts}] [INFO ] Socket {small}: AF_INET6 connection received from ::ffff:{ipv4:sip} port {port:sport}",
        "[{ts_xrdp:ts}] [INFO ] Socket {small}: AF_INET connection received from {ipv4:sip} port {port:sport}",
    ]),
    ("other", ["[{ts_xrdp:ts}] [INFO ] Using default X.509 certificate: /etc/xrdp/cert.pem", "[{ts_xrdp:ts}] [INFO ] Security protocol: configured [RDP|TLS|HYBRID], requested [RDP|TLS|HYBRID|HYBRID_EX], selected [TLS]"]),
])

WEBMIN = make_family("webmin", "apps", ("webmin", "miniserv.pl", "usermin"), "syslog", [
    ("login_failed", (3.0, [
        "Invalid login as {user:user} from {ip:sip}",
        "Non-existent login as {user:user} from {ip:sip}",
        "Security alert: too many failed logins from {ip:sip} for user {user:user}",
    ])),
    ("login_success", ["Successful login as {user:user} from {ip:sip}"]),
    ("session_closed", ["Logout by {user:user} from {ip:sip}", "Timeout of session for {user:user}"]),
    ("other", ["Webmin starting", "Reloading configuration"]),
])

APP_NOISE = make_family("app_noise", "apps", ("java", "python3", "node", "php", "gunicorn", "uwsgi", "celery", "app"), "file", [
    ("other", [
        "\tat {java_class}.{word}({word}.java:{count})",
        "\tat {java_class}.{word}(Unknown Source)",
        "\t... {count} more",
        "Caused by: java.lang.{|NullPointerException|IllegalStateException|IllegalArgumentException}: {word} must not be null",
        "java.net.SocketTimeoutException: Read timed out",
        "{ts_comma:ts} {level} [{thread}] {java_class} - Processing {word} request id={uuid} took {duration_ms}ms",
        "{ts_iso:ts} {level} {pid:pid} --- [{thread}] {java_class} : Completed initialization in {duration_ms} ms",
        "{ts_comma:ts} - {word}.{word} - {level} - Task {word}.{word}[{uuid}] succeeded in {duration_s}s: None",
        "Traceback (most recent call last):",
        '  File "/usr/lib/python3/dist-packages/{word}/{word}.py", line {count}, in {word}',
        "KeyError: '{word}'",
        "[{ts_iso:ts}] [{pid:pid}] [INFO] Booting worker with pid: {pid}",
        "[{ts_iso:ts}] [{pid:pid}] [INFO] Listening at: http://0.0.0.0:{port} ({pid})",
        "DEBUG {word}: cache hit ratio={small}.{small}{small} keys={count} evictions={small}",
        "{ts_comma:ts} INFO  [{word}] Heartbeat ok, {count} active sessions, queue depth {count}",
        "PHP Warning:  Undefined array key \"{word}\" in {path:path} on line {count}",
        "PHP Fatal error:  Uncaught Error: Call to undefined function {word}() in {path:path}:{count}",
        "npm WARN deprecated {word}@{version}: This package is no longer supported.",
        "> {word}@{version} start",
        "Server running at http://{|localhost|0.0.0.0|127.0.0.1}:{port}/",
        "GC pause (G1 Evacuation Pause) (young) {count}M->{count}M({count}M) {duration_ms}.{small}ms",
        "{ts_comma:ts} WARN  [{thread}] o.h.e.j.s.SqlExceptionHelper - SQL Error: 0, SQLState: 08001",
        "Exception in thread \"{thread}\" java.lang.OutOfMemoryError: Java heap space",
    ]),
])

SAMBA = make_family("samba", "apps", ("smbd", "samba", "winbindd"), "syslog", [
    ("login_failed", (3.0, [
        "  Auth: [SMB2,(null)] user [{domain}]\\[{plain_user:user}] at [{ts_apache_error:ts}] with [NTLMv2] status [NT_STATUS_{|WRONG_PASSWORD|NO_SUCH_USER|LOGON_FAILURE|ACCOUNT_LOCKED_OUT}] workstation [{workstation}] remote host [ipv4:{ipv4:sip}:{port:sport}] mapped to [{domain}]\\[{plain_user:user}]. local host [ipv4:{ipv4:dip}:445]",
        "check_ntlm_password:  Authentication for user [{plain_user:user}] -> [{plain_user:user}] FAILED with error NT_STATUS_WRONG_PASSWORD, authoritative=1",
        "  {|smbd|samba}/smb2_sesssetup.c:{count}(smbd_smb2_auth_generic_return)  smbd_smb2_auth_generic_return: Failed to authenticate user - NT_STATUS_LOGON_FAILURE, client {ipv4:sip}",
    ])),
    ("login_success", [
        "  Auth: [SMB2,(null)] user [{domain}]\\[{plain_user:user}] at [{ts_apache_error:ts}] with [NTLMv2] status [NT_STATUS_OK] workstation [{workstation}] remote host [ipv4:{ipv4:sip}:{port:sport}] became [{domain}]\\[{plain_user:user}] [S-1-5-21-{count}]. local host [ipv4:{ipv4:dip}:445]",
    ]),
    ("other", ["  {|smbd|nmbd}/server.c:{count}(main)  {|smbd|nmbd} version 4.{small}.{small} started.", "  Copyright Andrew Tridgell and the Samba Team 1992-2023"]),
])

ASTERISK = make_family("asterisk", "apps", ("asterisk",), "file", [
    ("login_failed", (3.0, [
        "[{ts_exim:ts}] NOTICE[{pid:pid}] chan_sip.c: Registration from '\"{count}\" <sip:{plain_user:user}@{ipv4}:5060>' failed for '{ipv4:sip}:{port:sport}' - {|Wrong password|No matching peer found|Username/auth name mismatch|Device does not match ACL}",
        "[{ts_exim:ts}] SECURITY[{pid:pid}] res_security_log.c: SecurityEvent=\"InvalidPassword\",EventTV=\"{ts_mysql}\",Severity=\"Error\",Service=\"SIP\",EventVersion=\"2\",AccountID=\"{plain_user:user}\",SessionID=\"0x{hex_id}\",LocalAddress=\"IPV4/UDP/{ipv4:dip}/5060\",RemoteAddress=\"IPV4/UDP/{ipv4:sip}/{port:sport}\"",
        "[{ts_exim:ts}] NOTICE[{pid:pid}][C-{hexstr2}{hexstr2}] chan_pjsip.c: Request 'INVITE' from '<sip:{plain_user:user}@{ipv4}>' failed for '{ipv4:sip}:{port:sport}' (callid: {hex_id}) - No matching endpoint found",
    ])),
    ("login_success", ["[{ts_exim:ts}] VERBOSE[{pid:pid}] res_pjsip_registrar.c: Added contact 'sip:{plain_user:user}@{ipv4:sip}:{port:sport}' to AOR '{plain_user}' with expiration of 3600 seconds"]),
    ("other", ["[{ts_exim:ts}] VERBOSE[{pid:pid}][C-{hexstr2}{hexstr2}] pbx.c: Executing [{count}@from-internal:1] Dial(\"PJSIP/{count}-{hex_id}\", \"PJSIP/{count},30\") in new stack"]),
])

MSSQL = make_family("mssql", "apps", ("sqlservr", "mssql"), "file", [
    ("login_failed", (3.0, [
        "{ts_pg:ts} Logon       Login failed for user '{windows_user:user}'. Reason: {|Password did not match that for the login provided.|Could not find a login matching the name provided.|An error occurred while evaluating the password.} [CLIENT: {ip:sip}]",
        "{ts_pg:ts} Logon       Error: 18456, Severity: 14, State: {small}.",
        "Login failed for user '{windows_user:user}'. Reason: Password did not match that for the login provided. [CLIENT: {ip:sip}]",
    ])),
    ("login_success", ["{ts_pg:ts} Logon       Login succeeded for user '{windows_user:user}'. Connection made using SQL Server authentication. [CLIENT: {ip:sip}]"]),
    ("other", ["{ts_pg:ts} spid{count}s     SQL Server is now ready for client connections. This is an informational message; no user action is required.",
               "{ts_pg:ts} Backup      Database backed up. Database: {db_name}, creation date(time): {ts_exim}, pages dumped: {count}"]),
])

FREERADIUS = make_family("freeradius", "apps", ("radiusd", "freeradius"), "file", [
    ("login_failed", (3.0, [
        "{ts_apache_error:ts} : Auth: (" + "{count}) Login incorrect (mschap: MS-CHAP2-Response is incorrect): [{plain_user:user}/<via Auth-Type = eap>] (from client {word} port {count} cli {mac})",
        "{ts_apache_error:ts} : Auth: ({count}) Login incorrect (pap: Cleartext-Password does not match \"known good\" password): [{plain_user:user}] (from client {word} port 0 via TLS tunnel)",
        "{ts_apache_error:ts} : Auth: ({count}) Invalid user: [{plain_user:user}] (from client {ip:sip} port {count})",
    ])),
    ("login_success", ["{ts_apache_error:ts} : Auth: ({count}) Login OK: [{plain_user:user}] (from client {word} port {count} cli {mac})"]),
    ("other", ["{ts_apache_error:ts} : Info: Ready to process requests", "{ts_apache_error:ts} : Info: Loaded virtual server <default>"]),
])

FAMILIES: tuple[Family, ...] = (
    MYSQL, POSTGRESQL, MONGODB, REDIS, VSFTPD, PROFTPD, PUREFTPD, JSON_APP, WINDOWS, XRDP, WEBMIN, APP_NOISE,
    SAMBA, ASTERISK, MSSQL, FREERADIUS,
)
