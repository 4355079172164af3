# ruff: noqa: E501  (templates are log lines; wrapping them would hide their shape)
"""Authentication and account families: OpenSSH, PAM, sudo, su, shadow-utils, login, dropbear, polkit.

Phrasings follow the programs' source and documentation (OpenSSH auth.c/sshd.c and
packet.c, Linux-PAM pam_unix, sudo, shadow-utils), including the many failure
wordings that fail2ban's sshd filter has to know.
"""

from __future__ import annotations

from logsentry.train.data.template import Family, make_family

_SSH_PORT = " port {port:sport}"
_SSH_FROM = "from {source:src}"

OPENSSH = make_family("openssh", "auth", ("sshd", "sshd", "sshd", "sshd-session", "sshd-auth"), "syslog", [
    ("ssh_login_failed", (4.0, [
        "Failed password for {user:user} " + _SSH_FROM + _SSH_PORT + " ssh2",
        "Failed password for {user:user} " + _SSH_FROM + _SSH_PORT,
        "Failed password for invalid user {user:user} " + _SSH_FROM + _SSH_PORT + " ssh2",
        "Failed publickey for {user:user} " + _SSH_FROM + _SSH_PORT + " ssh2: {key_type} {fingerprint}",
        "Failed keyboard-interactive/pam for {user:user} " + _SSH_FROM + _SSH_PORT + " ssh2",
        "Failed keyboard-interactive/pam for invalid user {user:user} " + _SSH_FROM + _SSH_PORT + " ssh2",
        "Failed none for invalid user {user:user} " + _SSH_FROM + _SSH_PORT + " ssh2",
        "Failed {|password|publickey|hostbased} for {user:user} " + _SSH_FROM + _SSH_PORT + " ssh2",
        "error: PAM: Authentication failure for {user:user} " + _SSH_FROM,
        "error: PAM: Authentication failure for illegal user {user:user} " + _SSH_FROM,
        "error: maximum authentication attempts exceeded for {user:user} " + _SSH_FROM + _SSH_PORT + " ssh2 [preauth]",
        "error: maximum authentication attempts exceeded for invalid user {user:user} " + _SSH_FROM + _SSH_PORT + " ssh2 [preauth]",
        "Disconnecting authenticating user {user:user} {source:src}" + _SSH_PORT + ": Too many authentication failures [preauth]",
        "Disconnecting invalid user {user:user} {source:src}" + _SSH_PORT + ": Too many authentication failures [preauth]",
        "Connection closed by authenticating user {user:user} {source:src}" + _SSH_PORT + " [preauth]",
        "Connection reset by authenticating user {user:user} {source:src}" + _SSH_PORT + " [preauth]",
        "Disconnected from authenticating user {user:user} {source:src}" + _SSH_PORT + " [preauth]",
        "User {user:user} from {source:src} not allowed because not listed in AllowUsers",
        "User {user:user} from {source:src} not allowed because listed in DenyUsers",
        "User {user:user} from {source:src} not allowed because none of user's groups are listed in AllowGroups",
        "User {user:user} not allowed because account is locked",
        "ROOT LOGIN REFUSED FROM {source:src}" + _SSH_PORT,
        "error: Received disconnect from {source:src}" + _SSH_PORT + ":14: No supported authentication methods available [preauth]",
        "Received disconnect from {source:src}" + _SSH_PORT + ":11: Bye Bye [preauth]",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={source:src}",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={source:src}  user={user:user}",
        "PAM {small} more authentication failure{|s}; logname= uid=0 euid=0 tty=ssh ruser= rhost={source:src}  user={user:user}",
        "Postponed keyboard-interactive for invalid user {user:user} " + _SSH_FROM + _SSH_PORT + " ssh2 [preauth]",
        "error: kex_exchange_identification: Connection closed by remote host",
        "Did not receive identification string from {source:src}" + _SSH_PORT,
        "Did not receive identification string from {source:src}",
        "Bad protocol version identification '{|GET / HTTP/1.1|\\x16\\x03\\x01|SSH-2.0-libssh} ' from {source:src}" + _SSH_PORT,
        "Unable to negotiate with {source:src}" + _SSH_PORT + ": no matching key exchange method found. Their offer: {kex_alg} [preauth]",
        "Unable to negotiate with {source:src}" + _SSH_PORT + ": no matching host key type found. Their offer: {|ssh-rsa,ssh-dss|ssh-dss} [preauth]",
        "error: kex_exchange_identification: banner line contains invalid characters",
        "fatal: Unable to negotiate with {source:src}" + _SSH_PORT + ": no matching cipher found. Their offer: {|aes128-cbc,3des-cbc|arcfour} [preauth]",
        "error: Protocol major versions differ for {source:src}: SSH-2.0-OpenSSH_8.9 vs. SSH-1.5-Nmap-SSH1-Hostkey",
        "fatal: ssh_packet_get_string: string is too large [preauth]",
        "error: Received disconnect from {source:src}" + _SSH_PORT + ":3: com.jcraft.jsch.JSchException: Auth fail [preauth]",
        "error: PAM: authentication error for {user:user} from {source:src}{| via {ip}|}",
        "Failed keyboard-interactive for <invalid username> " + _SSH_FROM + _SSH_PORT + " ssh2",
        "Failed unknown for invalid user {user:user} " + _SSH_FROM + _SSH_PORT + " ssh2",
        "Failed password for {user:user} " + _SSH_FROM + _SSH_PORT + " ssh1",
        "User {user:user} from {source:src} not allowed because not in any group",
        "User {user:user} from {source:src} not allowed because a group is listed in DenyGroups",
        "Received disconnect from {source:src}: 11: Normal Shutdown, Thank you for playing [preauth]",
        "Disconnecting invalid user {user:user} {source:src}" + _SSH_PORT + ": Change of username or service not allowed: ({user#u:var},ssh-connection) -> ({user},ssh-connection) [preauth]",
        "ssh_dispatch_run_fatal: Connection from {source:src}" + _SSH_PORT + ": {|message authentication code incorrect|Connection corrupted|invalid format} [preauth]",
        "Timeout before authentication for connection from {source:src} to {ip:dip}, pid = {pid}",
        "error: kex_exchange_identification: {|read: Connection reset by peer|client sent invalid protocol identifier \"\"|Connection closed by remote host}",
        "error: Bad remote protocol version identification: 'SSH-2.0-Go' from {source:src}",
        "Timeout before authentication for {source:src}" + _SSH_PORT,
        # Pre-authentication disconnects are scanners and guessers (fail2ban's aggressive mode).
        "Connection closed by {source:src}" + _SSH_PORT + " [preauth]",
        "Connection closed by {source:src} [preauth]",
        "Connection reset by {source:src}" + _SSH_PORT + " [preauth]",
        "Received disconnect from {source:src}" + _SSH_PORT + ":11:  [preauth]",
        "Disconnected from {source:src}" + _SSH_PORT + " [preauth]",
        "fatal: Read from socket failed: Connection reset by peer [preauth]",
        "Disconnecting: Too many authentication failures{| for {user:user}|} [preauth]",
        "fatal: Timeout before authentication for {source:src}" + _SSH_PORT,
        "banner exchange: Connection from {source:src}" + _SSH_PORT + ": invalid format",
        "error: PAM: User not known to the underlying authentication module for illegal user {user:user} from {source:src}",
    ])),
    ("invalid_user", (2.0, [
        "Invalid user {user:user} " + _SSH_FROM + _SSH_PORT,
        "Invalid user {user:user} " + _SSH_FROM,
        "Invalid user  from {source:src}" + _SSH_PORT,
        "Connection closed by invalid user  {source:src}" + _SSH_PORT + " [preauth]",
        "input_userauth_request: invalid user {user:user} [preauth]",
        "Illegal user {user:user} " + _SSH_FROM,
        "Connection closed by invalid user {user:user} {source:src}" + _SSH_PORT + " [preauth]",
        "Disconnected from invalid user {user:user} {source:src}" + _SSH_PORT + " [preauth]",
        "Connection reset by invalid user {user:user} {source:src}" + _SSH_PORT + " [preauth]",
    ])),
    ("ssh_login_success", (1.5, [
        "Accepted password for {user:user} " + _SSH_FROM + _SSH_PORT + " ssh2",
        "Accepted publickey for {user:user} " + _SSH_FROM + _SSH_PORT + " ssh2: {key_type} {fingerprint}",
        "Accepted keyboard-interactive/pam for {user:user} " + _SSH_FROM + _SSH_PORT + " ssh2",
        "Accepted gssapi-with-mic for {user:user} " + _SSH_FROM + _SSH_PORT + " ssh2",
        "Accepted {|password|publickey} for {user:user} " + _SSH_FROM + _SSH_PORT,
    ])),
    ("session_opened", [
        "pam_unix(sshd:session): session opened for user {user:user}(uid={uid}) by (uid=0)",
        "pam_unix(sshd:session): session opened for user {user:user} by (uid=0)",
        "pam_unix(sshd:session): session opened for user {user:user}(uid={uid}) by {user#u2:euser}(uid=0)",
        "Starting session: shell on {tty} for {user:user} from {source:src}" + _SSH_PORT + " id 0",
        "Starting session: command for {user:user} from {source:src}" + _SSH_PORT + " id {small}",
        "Starting session: subsystem 'sftp' for {user:user} from {source:src}" + _SSH_PORT + " id 0",
    ]),
    ("session_closed", [
        "pam_unix(sshd:session): session closed for user {user:user}",
        "Close session: user {user:user} from {source:src}" + _SSH_PORT + " id 0",
    ]),
    ("connection_closed", [
        "Received disconnect from {source:src}" + _SSH_PORT + ":11: disconnected by user",
        "Disconnected from user {user:user} {source:src}" + _SSH_PORT,
        "Connection closed by {source:src}" + _SSH_PORT,
        "Read error from remote host {source:src}" + _SSH_PORT + ": Connection reset by peer",
        "Timeout, client not responding from user {user:user} {source:src}" + _SSH_PORT,
    ]),
    ("connection_opened", [
        "Connection from {ip:sip}" + _SSH_PORT + " on {ip:dip} port {service_port:dport}",
        "Connection from {ip:sip}" + _SSH_PORT + " on {ip:dip} port {service_port:dport} rdomain \"\"",
    ]),
    ("connection_rejected", [
        "refused connect from {source:src} ({ip:sip})",
        "error: beginning MaxStartups throttling",
        "drop connection #{small} from [{ip:sip}]:{port:sport} on [{ip:dip}]:22 past MaxStartups",
        "exited MaxStartups throttling after {duration_ms}:{small}, {count} connections dropped",
    ]),
    ("service_start", [
        "Server listening on {|0.0.0.0|::} port {service_port:dport}.",
        "Server listening on {ip:dip} port {service_port:dport}.",
    ]),
    ("service_stop", [
        "Received signal 15; terminating.",
        "Received SIGHUP; restarting.",
    ]),
    ("other", (1.0, [
        "rexec line {small}: Deprecated option {|UsePrivilegeSeparation|RSAAuthentication|KeyRegenerationInterval}",
        "debug1: Forked child {pid}.",
        "subsystem request for sftp by user {user:user}",
        "pam_env(sshd:session): deprecated reading of user environment enabled",
        "User child is on pid {pid}",
        "Transferred: sent {size}, received {size} bytes",
        "reverse mapping checking getaddrinfo for {hostname:saddr} [{ipv4:sip}] failed - POSSIBLE BREAK-IN ATTEMPT!",
        "Address {ip:sip} maps to {hostname:saddr}, but this does not map back to the address - POSSIBLE BREAK-IN ATTEMPT!",
        "error: kex_exchange_identification: banner line too long",
        "error: kex_protocol_error: type {small}0 seq {count} [preauth]",
        "Invalid user from {source:src}" + _SSH_PORT,
    ])),
])

PAM = make_family("pam", "auth", ("sshd", "login", "su", "sudo", "vsftpd", "dovecot", "cron",
                                   "systemd-user", "gdm-password", "polkit-agent-helper-1", "proftpd"), "syslog", [
    ("login_failed", (3.0, [
        "pam_unix({|login|vsftpd|dovecot|proftpd|cockpit|gdm-password|xrdp-sesman|samba|other}:auth): authentication failure; logname={user#l:user} uid={uid} euid={uid} tty={tty} ruser= rhost={source:src}  user={user:user}",
        "(pam_unix) authentication failure; logname= uid=0 euid=0 tty={|ssh|pure-ftpd|proftpd|} ruser={|{user#ru:user}|} rhost={source:src}{|  user={user:user}|}",
        "pam_unix({|login|vsftpd|dovecot|proftpd|sddm|cyrus}:auth): authentication failure; logname= uid=0 euid=0 tty={tty} ruser= rhost={source:src}  user={user:user}",
        "pam_unix({|vsftpd|other|login}:auth): authentication failure; logname= uid=0 euid=0 tty={tty} ruser={user#ru:user} rhost={source:src}",
        "pam_unix({|login|su|vsftpd|sshd}:auth): check pass; user unknown",
        "pam_sss({|login|cockpit|gdm-password}:auth): authentication failure; logname= uid=0 euid=0 tty={tty} ruser= rhost={source:src} user={user:user}",
        "pam_sss({|login|cockpit|gdm-password}:auth): received for user {user:user}: 7 (Authentication failure)",
        "pam_ldap: error trying to bind as user \"uid={plain_user:user},ou=people,dc=acme,dc=com\" (Invalid credentials)",
        "pam_faillock({|login|cockpit|gdm-password}:auth): Consecutive login failures for user {user:user} account temporarily locked",
        "pam_tally2({|login|cockpit|gdm-password}:auth): user {user:user} ({uid}) tally {count}, deny {small}",
        "FAILED LOGIN ({small}) on '/dev/{tty}' FOR '{user:user}', Authentication failure",
        "FAILED LOGIN {small} FROM {source:src} FOR {user:user}, Authentication failure",
        "pam_winbind({|login|cockpit|gdm-password}:auth): user '{user:user}' denied access (incorrect password or invalid membership)",
        "gkr-pam: unable to locate daemon control file",
    ])),
    ("session_opened", [
        "pam_unix({|login|cron|systemd-user|sshd|gdm-password}:session): session opened for user {user:user}(uid={uid}) by {|LOGIN|(uid=0)}(uid=0)",
        "pam_unix({|login|cron|systemd-user}:session): session opened for user {user:user} by (uid=0)",
        "pam_systemd({|sshd|login}:session): New session {count} of user {user:user}.",
    ]),
    ("session_closed", [
        "pam_unix({|login|cron|systemd-user|sshd}:session): session closed for user {user:user}",
    ]),
    ("other", [
        "pam_unix({|sshd|login}:account): account {user:user} has expired (account expired)",
        "pam_systemd({|sshd|login}:session): Failed to release session: Interrupted system call",
        "pam_env(login:session): Unable to open env file: /etc/default/locale: No such file or directory",
        "PAM adding faulty module: /lib/x86_64-linux-gnu/security/pam_{word}.so",
    ]),
])

SUDO = make_family("sudo", "auth", ("sudo",), "syslog", [
    ("sudo_command", (3.0, [
        "{user:user} : TTY={tty} ; PWD={path} ; USER={user#e:euser} ; COMMAND={command:cmd}",
        "   {user:user} : TTY={tty} ; PWD=/home/{plain_user} ; USER=root ; COMMAND={command:cmd}",
        "{user:user} : PWD={path} ; USER={user#e:euser} ; COMMAND={command:cmd}",
        "{user:user} : TTY={tty} ; PWD={path} ; USER={user#e:euser} ; ENV=DEBIAN_FRONTEND=noninteractive ; COMMAND={command:cmd}",
        "{user:user} : TTY={tty} ; PWD={path} ; USER={user#e:euser} ; GROUP={group} ; COMMAND={command:cmd}",
    ])),
    ("sudo_auth_failure", (3.0, [
        "{user:user} : {small} incorrect password attempt{|s} ; TTY={tty} ; PWD={path} ; USER={user#e:euser} ; COMMAND={command:cmd}",
        "{user:user} : user NOT in sudoers ; TTY={tty} ; PWD={path} ; USER={user#e:euser} ; COMMAND={command:cmd}",
        "{user:user} : user NOT authorized on host ; TTY={tty} ; PWD={path} ; USER={user#e:euser} ; COMMAND={command:cmd}",
        "{user:user} : command not allowed ; TTY={tty} ; PWD={path} ; USER={user#e:euser} ; COMMAND={command:cmd}",
        "pam_unix(sudo:auth): authentication failure; logname={user#l:user} uid={uid} euid=0 tty=/dev/{tty} ruser={user#l:user} rhost=  user={user#l:user}",
        "pam_unix(sudo:auth): conversation failed",
        "pam_unix(sudo:auth): auth could not identify password for [{user:user}]",
        "{user:user} : a password is required ; TTY={tty} ; PWD={path} ; USER=root ; COMMAND={command:cmd}",
        "{user:user} : TTY={tty} ; PWD={path} ; USER=root ; COMMAND={command:cmd} : {small} incorrect password attempts",
    ])),
    ("session_opened", [
        "pam_unix(sudo:session): session opened for user {user#e:euser}(uid=0) by {user:user}(uid={uid})",
        "pam_unix(sudo:session): session opened for user {user#e:euser} by {user:user}(uid={uid})",
    ]),
    ("session_closed", [
        "pam_unix(sudo:session): session closed for user {user:euser}",
    ]),
])

SU = make_family("su", "auth", ("su", "su", "runuser"), "syslog", [
    ("su_session", (2.0, [
        "(to {user#e:euser}) {user:user} on {tty}",
        "Successful su for {user#e:euser} by {user:user}",
        "+ {tty} {user:user}:{user#e:euser}",
        "pam_unix(su:session): session opened for user {user#e:euser}(uid=0) by {user:user}(uid={uid})",
        "pam_unix(su-l:session): session opened for user {user#e:euser} by {user:user}(uid={uid})",
    ])),
    ("su_failed", (2.0, [
        "FAILED SU (to {user#e:euser}) {user:user} on {tty}",
        "FAILED su for {user#e:euser} by {user:user}",
        "- {tty} {user:user}:{user#e:euser}",
        "pam_unix(su:auth): authentication failure; logname={user:user} uid={uid} euid=0 tty=/dev/{tty} ruser={user#r:user} rhost=  user={user#e:euser}",
        "pam_authenticate: Authentication failure",
    ])),
    ("session_closed", [
        "pam_unix(su:session): session closed for user {user:euser}",
        "pam_unix(su-l:session): session closed for user {user:euser}",
    ]),
])

SHADOW = make_family("shadow_utils", "auth", ("useradd", "userdel", "usermod", "groupadd", "groupdel",
                                               "gpasswd", "passwd", "chpasswd", "chage", "adduser",
                                               "groupmod", "newusers", "chsh"), "syslog", [
    ("user_created", (2.0, [
        "new user: name={user:user}, UID={uid}, GID={uid}, home=/home/{user#h:var}, shell=/bin/{|bash|sh|zsh|false}, from={tty}",
        "new user: name={user:user}, UID={uid}, GID={uid}, home={path}, shell=/usr/sbin/nologin",
        "new user: name={user:user}, UID={uid}, GID={uid}, home=/home/{plain_user}, shell=/bin/bash",
    ])),
    ("user_deleted", [
        "delete user '{user:user}'",
        "removed group '{group}' owned by '{user:user}'",
        "removed shadow group '{group}' owned by '{user:user}'",
        "delete '{user:user}' from group '{group}'",
    ]),
    ("user_changed", [
        "change user '{user:user}' shell from '/bin/sh' to '/bin/bash'",
        "change user '{user:user}' home from '/home/{plain_user}' to '{path}'",
        "lock user '{user:user}' password",
        "unlock user '{user:user}' password",
        "change user '{user:user}' UID from '{uid}' to '{uid}'",
        "change user '{user:user}' expiration from 'never' to '{ts_iso:ts}'",
        "changed password expiry for {user:user}",
        "change name '{user:user}' to '{user#n:var}'",
    ]),
    ("group_changed", (1.5, [
        "add '{user:user}' to group '{group}'",
        "add '{user:user}' to shadow group '{group}'",
        "user {user:user} added by {user#b:euser} to group {group}",
        "user {user:user} removed by {user#b:euser} from group {group}",
        "members of group {group} set by {user:euser} to {user#m:user}",
        "group added to /etc/group: name={group}, GID={uid}",
        "new group: name={group}, GID={uid}",
        "group '{group}' removed",
    ])),
    ("password_changed", (1.5, [
        "pam_unix(passwd:chauthtok): password changed for {user:user}",
        "password for '{user:user}' changed by '{user#b:euser}'",
        "pam_unix(chpasswd:chauthtok): password changed for {user:user}",
        "password changed for '{user:user}'",
    ])),
])

LOGIN = make_family("login", "auth", ("login", "systemd-logind", "agetty", "gdm-password", "lightdm", "sddm"), "syslog", [
    ("login_failed", [
        "FAILED LOGIN ({small}) on '/dev/{tty}' FOR '{user:user}', Authentication failure",
        "FAILED LOGIN {small} FROM {source:src} FOR {user:user}, Authentication failure",
        "TOO MANY LOGIN TRIES ({small}) on '/dev/{tty}' FOR '{user:user}'",
        "pam_unix(login:auth): authentication failure; logname=LOGIN uid=0 euid=0 tty=/dev/{tty} ruser= rhost=  user={user:user}",
    ]),
    ("login_success", [
        "ROOT LOGIN  on '/dev/{tty}'",
        "LOGIN ON {tty} BY {user:user}",
    ]),
    ("session_opened", [
        "New session {count} of user {user:user}.",
        "New session c{count} of user {user:user}.",
    ]),
    ("session_closed", [
        "Session {count} logged out. Waiting for processes to exit.",
        "Removed session {count}.",
    ]),
    ("other", [
        "Watching system buttons on /dev/input/event{small} (Power Button)",
        "New seat seat0.",
        "System is rebooting.",
        "Lid closed.",
        "Power key pressed short.",
    ]),
])

DROPBEAR = make_family("dropbear", "auth", ("dropbear",), "syslog", [
    ("ssh_login_failed", (2.0, [
        "{|Bad|bad} password attempt for '{user:user}' from {ip:sip}:{port:sport}",
        "Bad PAM password attempt for '{user:user}' from {ip:sip}:{port:sport}",
        "{|Login|login} attempt for nonexistent user from {ip:sip}:{port:sport}",
        "Login attempt for nonexistent user '{user:user}' from {ip:sip}:{port:sport}",
        "Exit before auth from <{ip:sip}:{port:sport}>: Max auth tries reached - user '{user:user}'",
        "Exit before auth (user '{user:user}', {small} fails): Max auth tries reached - user '{user:user}'",
        "Exit before auth from <{ip:sip}:{port:sport}>: (user '{user:user}', {small} fails): Exited normally",
    ])),
    ("ssh_login_success", [
        "Password auth succeeded for '{user:user}' from {ip:sip}:{port:sport}",
        "Pubkey auth succeeded for '{user:user}' with key md5 {hex_id} from {ip:sip}:{port:sport}",
        "Pubkey auth succeeded for '{user:user}' with ssh-ed25519 key SHA256:{session_id} from {ip:sip}:{port:sport}",
    ]),
    ("connection_opened", [
        "Child connection from {ip:sip}:{port:sport}",
    ]),
    ("connection_closed", [
        "Exit ({user:user}): Disconnect received",
        "Exit before auth from <{ip:sip}:{port:sport}>: Exited normally",
        "Exit ({user:user}) from <{ip:sip}:{port:sport}>: Exited normally",
    ]),
    ("service_start", ["Running in background", "Not backgrounding"]),
])

POLKIT = make_family("polkit", "auth", ("polkitd", "pkexec"), "syslog", [
    ("privilege_escalation", [
        "{user:user}: Executing command [USER={user#e:euser}] [TTY={tty}] [CWD={path}] [COMMAND={command:cmd}]",
        "Operator of unix-session:{count} successfully authenticated as unix-user:{user:user} to gain ONE-SHOT authorization for action org.freedesktop.{word}.{word} for system-bus-name::1.{count} [{command:cmd}] (owned by unix-user:{user#o:euser})",
    ]),
    ("login_failed", [
        "{user:user}: Error executing command as another user: Not authorized [USER={user#e:euser}] [TTY={tty}] [CWD={path}] [COMMAND={command:cmd}]",
        "Operator of unix-session:{count} FAILED to authenticate to gain authorization for action org.freedesktop.{word}.{word} for unix-process:{pid}:{count} [{command:cmd}] (owned by unix-user:{user:user})",
    ]),
    ("other", [
        "Registered Authentication Agent for unix-session:{count} (system bus name :1.{count} [/usr/bin/gnome-shell], object path /org/freedesktop/PolicyKit1/AuthenticationAgent, locale en_US.UTF-8)",
        "Unregistered Authentication Agent for unix-process:{pid}:{count} (system bus name :1.{count}, object path /org/freedesktop/PolicyKit1/AuthenticationAgent, locale en_US.UTF-8) (disconnected from bus)",
        "Loading rules from directory /etc/polkit-1/rules.d",
        "Finished loading, compiling and executing {small} rules",
    ]),
])

# OpenLDAP's slapd stats log (loglevel stats): one line per operation, joined by conn=.
# A simple bind's outcome is only in its RESULT line (tag=97): err=49 is
# invalidCredentials (RFC 4511), err=0 success.
_LDAP_DN = 'dn="{|uid|cn}={plain_user:user},{|ou=people,|ou=users,|}dc={word},dc={|com|org|net|local}"'
SLAPD = make_family("slapd", "auth", ("slapd",), "syslog", [
    ("login_failed", (2.0, [
        "conn={count} op={small} RESULT tag=97 err=49 text={|invalid credentials|}",
        "conn={count} op={small} RESULT tag=97 err=49 qtime=0.0000{small} etime=0.00{count} text=",
        "conn={count} op={small} RESULT tag=97 err=53 text=unauthenticated bind (DN with no password) disallowed",
    ])),
    ("login_success", [
        "conn={count} op={small} RESULT tag=97 err=0 {|qtime=0.0000{small} etime=0.00{count} |}text=",
        "conn={count} op={small} BIND dn=\"{|uid|cn}={plain_user:user},ou=people,dc={word},dc=com\" mech=SIMPLE {|bind_ssf=0 |}ssf=0",
    ]),
    ("connection_opened", [
        "conn={count} fd={small} ACCEPT from IP={ip:sip}:{port:sport} (IP={|0.0.0.0|[::]}:{@389|636:dport})",
    ]),
    ("connection_closed", [
        "conn={count} fd={small} closed{| (connection lost)| (idletimeout)|}",
    ]),
    ("other", (2.0, [
        "conn={count} op={small} BIND " + _LDAP_DN + " method=128",
        "conn={count} op={small} SRCH base=\"dc={word},dc=com\" scope={small} deref=0 filter=\"(uid={plain_user:user})\"",
        "conn={count} op={small} SRCH attr=uid cn mail",
        "conn={count} op={small} SEARCH RESULT tag=101 err=0 {|qtime=0.0000{small} etime=0.00{count} |}nentries={small} text=",
        "conn={count} op={small} UNBIND",
        "conn={count} op={small} EXT oid=1.3.6.1.4.1.1466.20037",
        "conn={count} fd={small} TLS established tls_ssf=256 ssf=256",
        "slapd starting",
    ])),
])

FAMILIES: tuple[Family, ...] = (OPENSSH, PAM, SUDO, SU, SHADOW, LOGIN, DROPBEAR, POLKIT, SLAPD)
