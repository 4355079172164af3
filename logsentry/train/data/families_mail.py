# ruff: noqa: E501  (templates are log lines; wrapping them would hide their shape)
"""Mail families: Postfix, Dovecot, Exim, Sendmail, Courier, Cyrus IMAP.

Written from the daemons' documented message formats (Postfix smtpd/postscreen,
Dovecot login processes and auth workers, Exim main log, sendmail's syslog), not
from any test suite's sample lines.
"""

from __future__ import annotations

from logsentry.train.data.template import Family, make_family

_PEER = "{hostname:saddr}[{ip:sip}]"
_UNKNOWN_PEER = "unknown[{ip:sip}]"

POSTFIX = make_family("postfix", "mail", ("postfix/smtpd", "postfix/submission/smtpd", "postfix/smtps/smtpd",
                                           "postfix/postscreen", "postfix/qmgr", "postfix/smtp", "postfix/cleanup",
                                           "postfix/anvil"), "syslog", [
    ("mail_auth_failed", (3.0, [
        "warning: " + _UNKNOWN_PEER + ": SASL {sasl_mech} authentication failed: {|authentication failure|UGFzc3dvcmQ6|Invalid authentication mechanism}",
        "warning: " + _PEER + ": SASL {sasl_mech} authentication failed: authentication failure",
        "warning: " + _UNKNOWN_PEER + ": SASL {sasl_mech} authentication failed: authentication failure, sasl_username={mail_user:user}",
        "warning: " + _PEER + ": SASL {sasl_mech} authentication failed: (reason unavailable), sasl_username={mail_user:user}",
        "warning: " + _UNKNOWN_PEER + ": SASL {sasl_mech} authentication failed: Connection lost to authentication server",
        "lost connection after AUTH from " + _UNKNOWN_PEER,
        "too many errors after AUTH from " + _UNKNOWN_PEER,
        # smtpd's disconnect summary: auth=0/N is N AUTH commands, none accepted.
        "disconnect from " + _PEER + " ehlo=1 auth=0/{small} quit=1 commands=2/{small}",
        "disconnect from " + _UNKNOWN_PEER + " ehlo=1 auth=0/1 rset=1 quit=1 commands=3/4",
        "disconnect from " + _UNKNOWN_PEER + " {|ehlo=1|helo=1|ehlo=2 starttls=1} auth=0/{small} {|commands=1/2|quit=1 commands=2/3|rset=1 commands=2/3}",
    ])),
    ("rate_limited", [
        "warning: Connection rate limit exceeded: {small} from " + _PEER + " for service {|smtp|submission|smtps}",
        "warning: Connection concurrency limit exceeded: {small} from " + _UNKNOWN_PEER + " for service smtp",
        "warning: Message delivery request rate limit exceeded: {small} from " + _PEER + " for service smtp",
    ]),
    ("mail_rejected", (3.0, [
        "NOQUEUE: reject: RCPT from " + _PEER + ": 554 5.7.1 <{email}>: Relay access denied; from=<{email}> to=<{email}> proto={|ESMTP|SMTP} helo=<{helo}>",
        "NOQUEUE: reject: RCPT from " + _UNKNOWN_PEER + ": 450 4.7.1 Client host rejected: cannot find your hostname, [{ip}]; from=<{email}> to=<{email}> proto=ESMTP helo=<{helo}>",
        "NOQUEUE: reject: RCPT from " + _PEER + ": 554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org; from=<{email}> to=<{email}> proto=ESMTP helo=<{helo}>",
        # The recipient a rejection names is the account probed (user enumeration): user.name,
        # as CrowdSec's mail parsers set target_user.
        "NOQUEUE: reject: RCPT from " + _UNKNOWN_PEER + ": 550 5.1.1 <{email#rcpt:user}>: Recipient address rejected: User unknown in virtual mailbox table; from=<{email}> to=<{email#rcpt:user}> proto=ESMTP helo=<{helo}>",
        "NOQUEUE: reject: RCPT from " + _PEER + ": 504 5.5.2 <{helo}>: Helo command rejected: need fully-qualified hostname; from=<{email}> to=<{email}> proto=SMTP helo=<{helo}>",
        "NOQUEUE: reject: EHLO from " + _UNKNOWN_PEER + ": 504 5.5.2 <{helo}>: Helo command rejected: Host not found; proto=SMTP helo=<{helo}>",
        "{queue_id}: reject: RCPT from " + _PEER + ": 550 5.7.1 <{email}>: Sender address rejected: Access denied; from=<{email}> to=<{email}> proto=ESMTP helo=<{helo}>",
        "NOQUEUE: reject: CONNECT from " + _UNKNOWN_PEER + ": 550 5.3.2 Service currently unavailable; proto=SMTP",
        "improper command pipelining after {|CONNECT|EHLO|AUTH} from " + _UNKNOWN_PEER + ": {|\\r\\n|QUIT\\r\\n|GET / HTTP/1.1\\r\\n}",
        "PREGREET {count} after {duration_s} from [{ip:sip}]:{port:sport}: EHLO {helo}\\r\\n",
        # postscreen's other failed tests (postscreen(8)): the client is a bot or a broken client.
        "HANGUP after {duration_s} from [{ip:sip}]:{port:sport} in tests {|before|after} SMTP handshake",
        "COMMAND TIME LIMIT from [{ip:sip}]:{port:sport} after {|CONNECT|EHLO|RCPT|DATA}",
        "COMMAND PIPELINING from [{ip:sip}]:{port:sport} after {|EHLO|CONNECT}: {|QUIT\\r\\n|RSET\\r\\n}",
        "NON-SMTP COMMAND from [{ip:sip}]:{port:sport} after {|CONNECT|EHLO}: GET / HTTP/1.1",
        "BARE NEWLINE from [{ip:sip}]:{port:sport} after {|EHLO|DATA}",
        "COMMAND COUNT LIMIT from [{ip:sip}]:{port:sport} after {|RCPT|EHLO}",
        "DNSBL rank {small} for [{ip:sip}]:{port:sport}",
        "warning: non-SMTP command from " + _UNKNOWN_PEER + ": GET / HTTP/1.1",
        "too many errors after {|RCPT|DATA|EHLO|UNKNOWN} from " + _PEER,
    ])),
    ("connection_opened", [
        "connect from " + _PEER,
        "connect from " + _UNKNOWN_PEER,
        "CONNECT from [{ip:sip}]:{port:sport} to [{ip:dip}]:{@25|587:dport}",
    ]),
    ("connection_closed", [
        "disconnect from " + _PEER + " ehlo=1 auth=1/1 mail=1 rcpt=1 data=1 quit=1 commands=6",
        "disconnect from " + _PEER + " ehlo=2 starttls=1 auth=1/1 mail=1 rcpt=1 data=1 quit=1 commands=8",
        "disconnect from " + _UNKNOWN_PEER + " ehlo=1 mail=1 rcpt=0/1 data=0/1 rset=1 quit=1 commands=4/6",
        "disconnect from " + _PEER + " ehlo=1 quit=1 commands=2",
        "lost connection after {|CONNECT|EHLO|STARTTLS|DATA} from " + _UNKNOWN_PEER,
        "timeout after {|CONNECT|EHLO|END-OF-MESSAGE} from " + _PEER,
        "PASS OLD [{ip:sip}]:{port:sport}",
    ]),
    ("login_success", [
        "{queue_id}: client=" + _PEER + ", sasl_method={sasl_mech}, sasl_username={mail_user:user}",
    ]),
    ("other", (2.0, [
        "{queue_id}: client=" + _PEER,
        "{queue_id}: message-id=<{hex_id}@{vhost}>",
        "{queue_id}: from=<{email}>, size={size}, nrcpt=1 (queue active)",
        "{queue_id}: to=<{email}>, relay={hostname}[{ip}]:25, delay={duration_s}, delays=0/0/{duration_s}/0.1, dsn=2.0.0, status=sent (250 2.0.0 OK {hex_id})",
        "{queue_id}: to=<{email}>, relay=none, delay={count}, delays={count}/0/0/0, dsn=4.4.1, status=deferred (connect to {hostname}[{ip}]:25: Connection timed out)",
        "{queue_id}: removed",
        "warning: hostname {hostname} does not resolve to address {ip}: Name or service not known",
        "statistics: max connection rate {small}/60s for (smtp:{ip}) at {ts_syslog:ts}",
        "Anonymous TLS connection established from " + _PEER + ": TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
    ])),
])

_DLIP = ", rip={ip:sip}, lip={ip:dip}"
DOVECOT = make_family("dovecot", "mail", ("dovecot",), "syslog", [
    ("mail_auth_failed", (3.0, [
        "{|imap|pop3|submission}-login: Disconnected (auth failed, {small} attempts in {count} secs): user=<{mail_user:user}>, method={sasl_mech}" + _DLIP + ", TLS, session=<{dovecot_session}>",
        "{|imap|pop3}-login: Aborted login (auth failed, {small} attempts in {count} secs): user=<{mail_user:user}>, method=PLAIN" + _DLIP + ", session=<{dovecot_session}>",
        "{|imap|pop3}-login: Disconnected: Connection closed (auth failed, {small} attempts in {count} secs): user=<{mail_user:user}>, method=PLAIN" + _DLIP + ", TLS, session=<{dovecot_session}>",
        "{|imap|pop3}-login: Login aborted: Connection closed (auth failed, {small} attempts in {count} secs) (auth_failed): user=<{mail_user:user}>, method=PLAIN" + _DLIP + ", TLS, session=<{dovecot_session}>",
        "auth: passwd-file({mail_user:user},{ip:sip}): unknown user",
        "auth: passwd-file({mail_user:user},{ip:sip},<{dovecot_session}>): Password mismatch",
        "auth: sql({mail_user:user},{ip:sip},<{dovecot_session}>): Password mismatch",
        "auth: sql({mail_user:user},{ip:sip}): unknown user",
        "auth-worker({pid}): pam({mail_user:user},{ip:sip}): pam_authenticate() failed: Authentication failure",
        "auth-worker({pid}): pam({mail_user:user},{ip:sip},<{dovecot_session}>): pam_authenticate() failed: User not known to the underlying authentication module",
        "auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser={mail_user:user} rhost={ip:sip}",
        "auth: ldap({mail_user:user},{ip:sip}): invalid credentials",
        "auth: Info: ldap({mail_user:user},{ip:sip},<{dovecot_session}>): unknown user",
    ])),
    ("login_success", (1.5, [
        "{|imap|pop3|submission}-login: Login: user=<{mail_user:user}>, method={sasl_mech}" + _DLIP + ", mpid={pid}, TLS, session=<{dovecot_session}>",
        "{|imap|pop3}-login: Login: user=<{mail_user:user}>, method=PLAIN" + _DLIP + ", mpid={pid}, secured, session=<{dovecot_session}>",
    ])),
    ("session_closed", [
        "imap({mail_user:user})<{pid}><{dovecot_session}>: Disconnected: Logged out in={size} out={size} deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0",
        "pop3({mail_user:user}): Disconnected: Logged out top=0/0, retr={small}/{size}, del=0/{small}, size={size}",
        "imap({mail_user:user}): Connection closed (IDLE running for {count}.{small}00 + waiting input for {count}.001 secs, 2 B in + 10+0 B out, state=wait-input) in={size} out={size}",
    ]),
    ("connection_closed", [
        "{|imap|pop3}-login: Disconnected (no auth attempts in {count} secs): user=<>" + _DLIP + ", session=<{dovecot_session}>",
        "{|imap|pop3}-login: Disconnected (disconnected before auth was ready, waited 0 secs): user=<>" + _DLIP + ", session=<{dovecot_session}>",
    ]),
    ("connection_rejected", [
        # A client's failed TLS handshake is a refused connection (as for nginx and haproxy).
        "{|imap|pop3}-login: Disconnected (no auth attempts in {count} secs): user=<>" + _DLIP + ", TLS handshaking: SSL_accept() failed: error:{hex_id}:SSL routines::{|wrong version number|http request|unsupported protocol|no shared cipher}, session=<{dovecot_session}>",
        "{|imap|pop3|managesieve}-login: Disconnected: Connection closed: SSL_accept() failed: error:{hex_id}:SSL routines::{|wrong version number|unsupported protocol|no shared cipher|version too low} (no auth attempts in {count} secs): user=<>" + _DLIP + ", TLS handshaking, session=<{dovecot_session}>",
        "{|imap|pop3}-login: Login aborted: Connection closed: SSL_accept() failed: error:{hex_id}:SSL routines::{|no shared cipher|no application protocol|wrong version number} (disconnected during TLS handshake) (tls_handshake_failed): user=<>" + _DLIP + ", TLS handshaking, session=<{dovecot_session}>",
    ]),
    ("other", [
        "master: Dovecot v2.3.{small} ({hex_id}) starting up for imap, pop3, lmtp (core dumps disabled)",
        "lmtp({mail_user:user})<{pid}><{session_id}>: msgid=<{hex_id}@{vhost}>: saved mail to INBOX",
        "auth: Warning: Event 0x{hex_id} leaked (parent=(nil)): auth-client-connection.c:338",
        "config: Warning: please set ssl_dh=</etc/dovecot/dh.pem",
    ]),
])

# A client's HELO argument may be an address literal (RFC 5321 4.1.3): an address that is
# not the peer.
_EXIM_HELO = "{|{helo}|{helo}|{helo}|[{ip}]}"
_EXIM_H = "H=(" + _EXIM_HELO + ") [{ip:sip}]:{port:sport}"
_EXIM_H2 = "H={hostname:saddr} (" + _EXIM_HELO + ") [{ip:sip}]:{port:sport}"
_EXIM_TS = "{ts_exim:ts} "
EXIM = make_family("exim", "mail", ("exim", "exim4"), "file", [
    ("mail_auth_failed", (3.0, [
        _EXIM_TS + "{|login|plain|dovecot_login|dovecot_plain|cram_md5}_authenticator authenticator failed for (" + _EXIM_HELO + ") [{ip:sip}]:{port:sport} I=[{ip:dip}]:{@587|465|25:dport}: 535 Incorrect authentication data (set_id={mail_user:user})",
        _EXIM_TS + "{|login|plain}_authenticator authenticator failed for {hostname:saddr} (" + _EXIM_HELO + ") [{ip:sip}]:{port:sport}: 535 Incorrect authentication data (set_id={mail_user:user})",
        _EXIM_TS + "{|login|plain}_authenticator authenticator failed for (" + _EXIM_HELO + ") [{ip:sip}]: 535 Incorrect authentication data",
        _EXIM_TS + "SMTP call from (" + _EXIM_HELO + ") [{ip:sip}]:{port:sport} I=[{ip:dip}]:{@587:dport} dropped: too many syntax or protocol errors (last command was \"AUTH LOGIN\", C=EHLO,AUTH)",
    ])),
    ("mail_rejected", (3.0, [
        _EXIM_TS + _EXIM_H + " F=<{email}> rejected RCPT <{email:user}>: relay not permitted",
        _EXIM_TS + _EXIM_H2 + " F=<{email}> rejected RCPT <{email:user}>: Unrouteable address",
        _EXIM_TS + _EXIM_H + " rejected EHLO or HELO {helo}: syntactically invalid argument(s): {helo}",
        _EXIM_TS + _EXIM_H + " F=<{email}> rejected RCPT <{email:user}>: JunkMail rejected - {hostname} [{ip}] is in an RBL: https://www.spamhaus.org/query/ip/{ip}",
        _EXIM_TS + "SMTP protocol synchronization error (input sent without waiting for greeting): rejected connection from H=[{ip:sip}]:{port:sport} I=[{ip:dip}]:{@25:dport} input=\"GET / HTTP/1.1\\r\\n\"",
        _EXIM_TS + "SMTP protocol error in \"AUTH LOGIN\" " + _EXIM_H + " I=[{ip:dip}]:{@25:dport} AUTH command used when not advertised",
        _EXIM_TS + "SMTP call from " + _EXIM_H + " dropped: too many nonmail commands (last was \"RSET\")",
        _EXIM_TS + "{exim_id} " + _EXIM_H + " F=<{email}> rejected after DATA: This message contains a virus ({malware}).",
        _EXIM_TS + _EXIM_H + " sender verify fail for <{email}>: Unrouteable address",
        _EXIM_TS + "{exim_id} " + _EXIM_H2 + " F=<{email}> rejected after DATA: Your message scored {count}.{small} SpamAssassin points. Report follows:",
    ])),
    ("connection_rejected", [
        _EXIM_TS + "SMTP connection from {|{hostname:saddr} |}(" + _EXIM_HELO + ") [{ip:sip}]{|:{port:sport}|} closed by DROP in ACL",
        _EXIM_TS + "H=[{ip:sip}]:{port:sport} dropped by 'connect' ACL: {|Country is banned|blacklisted|too many connections}",
        _EXIM_TS + "H=[{ip:sip}]:{port:sport} rejected connection in \"connect\" ACL{|: blocked|}",
        _EXIM_TS + "Connection from [{ip:sip}]{|:{port:sport}|} refused: too many connections from that IP address",
    ]),
    ("connection_opened", [_EXIM_TS + "SMTP connection from [{ip:sip}]:{port:sport} I=[{ip:dip}]:{@25:dport} (TCP/IP connection count = {small})"]),
    ("connection_closed", [
        _EXIM_TS + "SMTP connection from " + _EXIM_H + " lost",
        _EXIM_TS + "SMTP connection from [{ip:sip}]:{port:sport} I=[{ip:dip}]:{@25:dport} closed by QUIT",
        _EXIM_TS + "unexpected disconnection while reading SMTP command from " + _EXIM_H + " D={count}s",
    ]),
    ("login_success", [
        _EXIM_TS + "{exim_id} <= {email} " + _EXIM_H2 + " P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A={|login|plain|dovecot_login}:{mail_user:user} S={size} id={hex_id}@{vhost}",
    ]),
    ("other", (2.0, [
        _EXIM_TS + "{exim_id} <= {email} " + _EXIM_H2 + " P=esmtps X=TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256 S={size} id={hex_id}@{vhost}",
        _EXIM_TS + "{exim_id} => {email} R=dnslookup T=remote_smtp H={hostname} [{ip}] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 C=\"250 2.0.0 OK\"",
        _EXIM_TS + "{exim_id} Completed",
        _EXIM_TS + "Start queue run: pid={pid}",
        _EXIM_TS + "End queue run: pid={pid}",
        _EXIM_TS + "{exim_id} == {email} R=dnslookup T=remote_smtp defer (-44): SMTP error from remote mail server after RCPT TO:<{email}>: 451 4.7.1 Greylisting in action",
    ])),
])

_SM = "{sendmail_id}: "
SENDMAIL = make_family("sendmail", "mail", ("sm-mta", "sendmail", "sm-acceptingconnections"), "syslog", [
    ("mail_auth_failed", (3.0, [
        _SM + "AUTH failure ({sasl_mech}): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user={mail_user:user}, relay={hostname:saddr} [{ip:sip}]",
        _SM + "AUTH failure ({sasl_mech}): user not found (-20) SASL(-13): user not found: unable to canonify user and get auxprops, relay=[{ip:sip}]",
        _SM + "AUTH failure ({sasl_mech}): authentication failure (-13) SASL(-13): authentication failure: Password verification failed, relay=[{ip:sip}]",
        "AUTH failure ({sasl_mech}): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user={mail_user:user}, relay=[{ip:sip}]",
    ])),
    ("mail_rejected", (3.0, [
        _SM + "ruleset=check_rcpt, arg1=<{email}>, relay={hostname:saddr} [{ip:sip}], reject=550 5.7.1 <{email}>... Relaying denied",
        _SM + "ruleset=check_relay, arg1={hostname}, arg2=127.0.0.2, relay={hostname:saddr} [{ip:sip}], reject=550 5.7.1 Rejected: {ip} listed at zen.spamhaus.org",
        _SM + "ruleset=check_mail, arg1=<{email}>, relay=[{ip:sip}], reject=553 5.1.8 <{email}>... Domain of sender address {email} does not exist",
        _SM + "[{ip:sip}] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA",
        _SM + "{hostname:saddr} [{ip:sip}]: possible SMTP attack: command=AUTH, count={small}",
        _SM + "<{email}>... User unknown",
        _SM + "lost input channel from [{ip:sip}] to MTA after rcpt",
        _SM + "rejecting commands from [{ip:sip}] due to pre-greeting traffic after {small} seconds",
        _SM + "ruleset=check_rcpt, arg1=<{email}>, relay=[{ip:sip}] (may be forged), reject=550 5.7.1 <{email}>... Relaying denied. Proper authentication required.",
    ])),
    ("other", [
        _SM + "from=<{email}>, size={size}, class=0, nrcpts=1, msgid=<{hex_id}@{vhost}>, proto=ESMTP, daemon=MTA, relay={hostname} [{ip}]",
        _SM + "to=<{email}>, delay=00:00:0{small}, xdelay=00:00:0{small}, mailer=esmtp, pri={count}, relay={hostname}. [{ip}], dsn=2.0.0, stat=Sent (OK {hex_id})",
        "starting daemon (8.15.2): SMTP+queueing@00:10:00",
        _SM + "STARTTLS=server, relay=[{ip}], version=TLSv1.3, verify=NO, cipher=TLS_AES_256_GCM_SHA384, bits=256/256",
    ]),
])

COURIER = make_family("courier", "mail", ("imapd", "pop3d", "imapd-ssl", "pop3d-ssl", "courier-imapd", "courierpop3login"), "syslog", [
    ("mail_auth_failed", (3.0, [
        "LOGIN FAILED, user={mail_user:user}, ip=[::ffff:{ipv4:sip}]",
        "LOGIN FAILED, user={mail_user:user}, ip=[{ip:sip}]",
        "LOGIN FAILED, method={|PLAIN|LOGIN|CRAM-MD5}, ip=[::ffff:{ipv4:sip}]",
        "authentication error: Input/output error",
    ])),
    ("login_success", [
        "LOGIN, user={mail_user:user}, ip=[::ffff:{ipv4:sip}], port=[{port:sport}], protocol={|IMAP|POP3}",
    ]),
    ("session_closed", [
        "LOGOUT, user={mail_user:user}, ip=[::ffff:{ipv4:sip}], headers={size}, body={size}, rcvd={size}, sent={size}, time={count}",
        "DISCONNECTED, user={mail_user:user}, ip=[::ffff:{ipv4:sip}], headers=0, body=0, rcvd={size}, sent={size}, time={count}, starttls=1",
    ]),
    ("connection_opened", ["Connection, ip=[::ffff:{ipv4:sip}]"]),
    ("connection_closed", ["Disconnected, ip=[::ffff:{ipv4:sip}]", "TIMEOUT, ip=[::ffff:{ipv4:sip}], headers=0, body=0, rcvd={size}, sent={size}, time={count}"]),
])

CYRUS = make_family("cyrus_imap", "mail", ("cyrus/imap", "cyrus/pop3", "imaps", "cyrus/imaps", "pop3s"), "syslog", [
    ("mail_auth_failed", (3.0, [
        "badlogin: {hostname:saddr} [{ip:sip}] {sasl_mech} [SASL(-13): authentication failure: checkpass failed]",
        "badlogin: [{ip:sip}] plaintext {mail_user:user} SASL(-13): authentication failure: checkpass failed",
        "badlogin: {hostname:saddr} [{ip:sip}] plaintext {mail_user:user} SASL(-13): {|authentication failure: checkpass failed|user not found: checkpass failed}",
        "badlogin: {hostname:saddr} [{ip:sip}] {sasl_mech} [SASL(-13): user not found: checkpass failed]",
        "badlogin: [{ip:sip}] {sasl_mech} [SASL(-13): authentication failure: Password verification failed]",
    ])),
    ("login_success", [
        "login: {hostname:saddr} [{ip:sip}] {mail_user:user} plaintext{|+TLS|} User logged in SESSIONID=<{hostname}-{pid}-{count}-1-{digits_12}>",
        "login: [{ip:sip}] {mail_user:user} {|PLAIN|LOGIN}+TLS User logged in",
    ]),
    ("connection_opened", ["accepted connection"]),
    ("other", [
        "mystore: starting txn {count}",
        "Expunged {small} messages from user.{plain_user}",
        "seen_db: user {plain_user} opened /var/lib/cyrus/user/{plain_user}.seen",
    ]),
])

FAMILIES: tuple[Family, ...] = (POSTFIX, DOVECOT, EXIM, SENDMAIL, COURIER, CYRUS)
