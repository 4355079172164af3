# ruff: noqa: E501  (templates are log lines; wrapping them would hide their shape)
"""System families: systemd, cron, kernel (segfaults, OOM, hardware chatter), auditd,
Docker/containerd, kubelet, ClamAV, and background noise from rsyslog, logrotate,
apt and friends (so the model learns `other`).
"""

from __future__ import annotations

from logsentry.train.data.template import Family, make_family

_UNIT = "{unit:pname}.service"
SYSTEMD = make_family("systemd", "system", ("systemd", "systemd", "systemd-coredump", "init"), "syslog", [
    ("service_start", (2.0, [
        "Started {unit_description}.",
        "Started " + _UNIT + " - {unit_description}.",
        "Starting {unit_description}...",
        "Starting " + _UNIT + " - {unit_description}...",
        "Started {unit:pname}.service.",
        "Reached target {|Multi-User System|Graphical Interface|Network is Online|Timers}.",
    ])),
    ("service_stop", (1.5, [
        "Stopped {unit_description}.",
        "Stopping " + _UNIT + " - {unit_description}...",
        "Stopped " + _UNIT + " - {unit_description}.",
        _UNIT + ": Deactivated successfully.",
        _UNIT + ": Consumed {duration_s}s CPU time.",
        _UNIT + ": Succeeded.",
    ])),
    ("service_crash", (2.0, [
        _UNIT + ": Main process exited, code={|killed|dumped}, status={|11/SEGV|6/ABRT|9/KILL|7/BUS}",
        _UNIT + ": Main process exited, code=exited, status={exit_code}/FAILURE",
        _UNIT + ": Failed with result '{|exit-code|core-dump|signal|timeout|oom-kill|start-limit-hit}'.",
        "Failed to start {unit_description}.",
        "Failed to start " + _UNIT + " - {unit_description}.",
        _UNIT + ": A process of this unit has been killed by the OOM killer.",
        _UNIT + ": Start request repeated too quickly.",
        _UNIT + ": Scheduled restart job, restart counter is at {small}.",
        "Process {pid:pid} ({program:pname}) of user {uid} dumped core.",
        _UNIT + ": Watchdog timeout (limit 3min)!",
    ])),
    ("session_opened", [
        "Started Session {count} of User {plain_user:user}.",
        "Started session-{count}.scope - Session {count} of User {plain_user:user}.",
        "Started user@{uid}.service - User Manager for UID {uid}.",
    ]),
    ("session_closed", [
        "session-{count}.scope: Deactivated successfully.",
        "Stopped user@{uid}.service - User Manager for UID {uid}.",
        "Removed slice user-{uid}.slice - User Slice of UID {uid}.",
    ]),
    ("config_change", [
        "Reloading.",
        "Reloading " + _UNIT + " - {unit_description}...",
        "Reloaded " + _UNIT + " - {unit_description}.",
        "Configuration file /etc/systemd/system/{unit}.service is marked world-writable. Please remove world writability permission bits.",
        "Created symlink /etc/systemd/system/multi-user.target.wants/{unit}.service → /lib/systemd/system/{unit}.service.",
    ]),
    ("other", [
        "Startup finished in {duration_s}s (kernel) + {duration_s}s (userspace) = {duration_s}s.",
        "Finished {unit_description}.",
        "Listening on {|D-Bus System Message Bus Socket|Journal Socket|OpenBSD Secure Shell server socket}.",
        "{unit}.timer: Adding {count}min {count}.{count}s random time.",
        "Queued start job for default target Default.",
        "Journal started",
        "Received SIGRTMIN+20 from PID {pid} (plymouthd).",
    ]),
])

CRON = make_family("cron", "system", ("CRON", "cron", "crond", "anacron", "crontab"), "syslog", [
    ("process_started", (3.0, [
        "({plain_user:user}) CMD ({shell_line:cmd})",
        "({plain_user:user}) CMD ({command:cmd})",
        "({plain_user:user}) CMD (   cd / && run-parts --report /etc/cron.hourly)",
        "(root) CMD ({shell_line:cmd})",
        "Job `cron.daily' started",
    ])),
    ("config_change", [
        "({plain_user:user}) REPLACE ({plain_user#r:user})",
        "({plain_user:user}) BEGIN EDIT ({plain_user:user})",
        "({plain_user:user}) END EDIT ({plain_user:user})",
        "({plain_user:user}) RELOAD (crontabs/{plain_user:user})",
        "(*system*{word}) RELOAD (/etc/cron.d/{word})",
    ]),
    ("session_opened", ["pam_unix(cron:session): session opened for user {user:user}(uid={uid}) by (uid=0)"]),
    ("session_closed", ["pam_unix(cron:session): session closed for user {user:user}"]),
    ("other", [
        "(CRON) INFO (Running @reboot jobs)",
        "(CRON) INFO (pidfile fd = 3)",
        "({plain_user:user}) MAIL (mailed {count} bytes of output but got status 0x004b from MTA)",
        "(CRON) info (No MTA installed, discarding output)",
        "Job `cron.daily' terminated",
        "Anacron 2.3 started on {ts_iso}",
        "Normal exit ({small} jobs run)",
        "(*system*) WRONG FILE OWNER (/etc/cron.d/{word})",
    ]),
])

_KTS = "[{||||   | }{uptime}] "
KERNEL = make_family("kernel", "system", ("kernel",), "syslog", [
    ("service_crash", (3.0, [
        _KTS + "{program:pname}[{pid:pid}]: segfault at {addr_hex} ip {addr_hex} sp {addr_hex} error {small} in {|libc.so.6|libc-2.31.so|ld-linux-x86-64.so.2|libssl.so.3|libcrypto.so.3}[{addr_hex}+{hexstr2}000]",
        "{program:pname}[{pid:pid}]: segfault at 0 ip {addr_hex} sp {addr_hex} error 4 in {program}[{addr_hex}+{hexstr2}000] likely on CPU {small} (core {small}, socket 0)",
        _KTS + "Out of memory: Killed process {pid:pid} ({program:pname}) total-vm:{mem_kb}kB, anon-rss:{mem_kb}kB, file-rss:{mem_kb}kB, shmem-rss:0kB, UID:{uid} pgtables:{mem_kb}kB oom_score_adj:0",
        _KTS + "Out of memory: Kill process {pid:pid} ({program:pname}) score {count} or sacrifice child",
        _KTS + "Memory cgroup out of memory: Killed process {pid:pid} ({program:pname}) total-vm:{mem_kb}kB, anon-rss:{mem_kb}kB, file-rss:0kB, shmem-rss:0kB, UID:{uid} pgtables:{mem_kb}kB oom_score_adj:{count}",
        _KTS + "oom-kill:constraint=CONSTRAINT_{|NONE|MEMCG},nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/{unit}.service,task={program:pname},pid={pid:pid},uid={uid}",
        _KTS + "{program:pname}[{pid:pid}]: general protection fault ip:{addr_hex} sp:{addr_hex} error:0 in {program}[{addr_hex}+{hexstr2}000]",
        _KTS + "traps: {program:pname}[{pid:pid}] trap invalid opcode ip:{addr_hex} sp:{addr_hex} error:0 in {program}[{addr_hex}+{hexstr2}000]",
        _KTS + "BUG: unable to handle page fault for address: {addr_hex}",
        _KTS + "Kernel panic - not syncing: Fatal exception",
    ])),
    ("intrusion_detected", [
        _KTS + "TCP: request_sock_TCP: Possible SYN flooding on port {|[::]:|0.0.0.0:|}{service_port:dport}. Sending cookies.  Check SNMP counters.",
        _KTS + "nf_conntrack: nf_conntrack: table full, dropping packet",
    ]),
    ("other", (3.0, [
        _KTS + "EXT4-fs ({|sda1|nvme0n1p2|vda1|dm-0}): mounted filesystem {uuid} r/w with ordered data mode. Quota mode: none.",
        _KTS + "usb {small}-{small}: new high-speed USB device number {small} using xhci_hcd",
        _KTS + "e1000e: {iface} NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx",
        _KTS + "{iface}: renamed from veth{hex_id}",
        _KTS + "br-{hexstr2}{hexstr2}{hexstr2}: port {small}(veth{hexstr2}{hexstr2}) entered {|blocking|forwarding|disabled} state",
        _KTS + "audit: type=1400 audit({ts_epoch}:{count}): apparmor=\"{|DENIED|ALLOWED|STATUS}\" operation=\"{|open|exec|capable}\" profile=\"{|/usr/sbin/cupsd|snap.lxd.lxc|/usr/sbin/ntpd}\" name=\"{path:path}\" pid={pid:pid} comm=\"{program:pname}\" requested_mask=\"r\" denied_mask=\"r\" fsuid={uid} ouid=0",
        _KTS + "Linux version 6.{small}.0-{count}-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.{count}-1",
        _KTS + "perf: interrupt took too long ({count} > {count}), lowering kernel.perf_event_max_sample_rate to {count}",
        _KTS + "device {iface} entered promiscuous mode",
        _KTS + "IPv6: ADDRCONF(NETDEV_CHANGE): {iface}: link becomes ready",
        _KTS + "sd {small}:0:0:0: [sda] {count} 512-byte logical blocks: ({count} GB/{count} GiB)",
        _KTS + "NET: Registered PF_INET6 protocol family",
        _KTS + "CPU{small}: Core temperature above threshold, cpu clock throttled (total events = {count})",
        _KTS + "hrtimer: interrupt took {count} ns",
        "kauditd_printk_skb: {small} callbacks suppressed",
        _KTS + "workqueue: {word}_work_fn hogged CPU for >10000us {small} times, consider switching to WQ_UNBOUND",
    ])),
])

_AUDIT = "type={|USER_AUTH|USER_AUTH|USER_LOGIN|USER_ACCT|USER_ERR} msg=audit({ts_epoch:ts}:{count}): pid={pid:pid} uid=0 auid={|4294967295|1000|0} ses={|4294967295|12|3} subj={|unconfined|system_u:system_r:sshd_t:s0-s0:c0.c1023|=unconfined} msg='op="
AUDITD = make_family("auditd", "system", ("audit", "auditd", "kernel"), "syslog", [
    ("login_failed", (2.0, [
        _AUDIT + "PAM:authentication grantors=? acct=\"{plain_user:user}\" exe=\"{|/usr/sbin/sshd|/usr/bin/login|/usr/sbin/vsftpd}\" hostname={ip:sip} addr={ip:sip} terminal={|ssh|/dev/tty1|ftp} res=failed'",
        _AUDIT + "login acct=\"{plain_user:user}\" exe=\"/usr/sbin/sshd\" hostname=? addr={ip:sip} terminal=sshd res=failed'",
        _AUDIT + "PAM:bad_ident grantors=? acct=\"?\" exe=\"/usr/sbin/sshd\" hostname={ip:sip} addr={ip:sip} terminal=ssh res=failed'",
        _AUDIT + "PAM:authentication grantors=? acct=\"{plain_user:user}\" exe=\"/usr/bin/su\" hostname=? addr=? terminal=/dev/pts/0 res=failed'",
    ])),
    ("login_success", [
        _AUDIT + "PAM:authentication grantors=pam_unix acct=\"{plain_user:user}\" exe=\"/usr/sbin/sshd\" hostname={ip:sip} addr={ip:sip} terminal=ssh res=success'",
        _AUDIT + "login id={uid} exe=\"/usr/sbin/sshd\" hostname=? addr={ip:sip} terminal=/dev/pts/{small} res=success'",
    ]),
    ("process_started", (2.0, [
        "type=EXECVE msg=audit({ts_epoch:ts}:{count}): argc=3 a0=\"{|wget|curl|nc|bash|python3}\" a1=\"{|-q|-s|-e|-c}\" a2=\"{full_url}\"",
        "type=SYSCALL msg=audit({ts_epoch:ts}:{count}): arch=c000003e syscall=59 success=yes exit=0 a0={hex_id} a1={hex_id} a2={hex_id} a3=0 items=2 ppid={pid} pid={pid:pid} auid={uid} uid={uid} gid={uid} euid={uid} suid={uid} fsuid={uid} egid={uid} sgid={uid} fsgid={uid} tty=pts{small} ses={count} comm=\"{program:pname}\" exe=\"/usr/bin/{program}\" key=\"{|exec|susp_activity|rootcmd}\"",
        "type=PROCTITLE msg=audit({ts_epoch:ts}:{count}): proctitle=\"{command:cmd}\"",
    ])),
    ("sudo_command", [
        "type=USER_CMD msg=audit({ts_epoch:ts}:{count}): pid={pid:pid} uid={uid} auid={uid} ses={count} subj=unconfined msg='cwd=\"{path}\" cmd={hex_id} exe=\"/usr/bin/sudo\" terminal=pts/{small} res=success'",
    ]),
    ("user_created", ["type=ADD_USER msg=audit({ts_epoch:ts}:{count}): pid={pid:pid} uid=0 auid={uid} ses={count} subj=unconfined msg='op=add-user id={uid} exe=\"/usr/sbin/useradd\" hostname=? addr=? terminal=pts/{small} res=success'",
                      "type=ADD_USER msg=audit({ts_epoch:ts}:{count}): pid={pid:pid} uid=0 auid={uid} ses={count} msg='op=adding user acct=\"{plain_user:user}\" exe=\"/usr/sbin/useradd\" hostname=? addr=? terminal=pts/0 res=success'"]),
    ("user_deleted", ["type=DEL_USER msg=audit({ts_epoch:ts}:{count}): pid={pid:pid} uid=0 auid={uid} ses={count} msg='op=delete-user acct=\"{plain_user:user}\" exe=\"/usr/sbin/userdel\" hostname=? addr=? terminal=pts/0 res=success'"]),
    ("group_changed", ["type=ADD_GROUP msg=audit({ts_epoch:ts}:{count}): pid={pid:pid} uid=0 auid={uid} ses={count} msg='op=add-group acct=\"{group}\" exe=\"/usr/sbin/groupadd\" hostname=? addr=? terminal=pts/0 res=success'",
                       "type=USER_MGMT msg=audit({ts_epoch:ts}:{count}): pid={pid:pid} uid=0 auid={uid} ses={count} msg='op=add-user-to-group grp=\"{group}\" acct=\"{plain_user:user}\" exe=\"/usr/sbin/usermod\" hostname=? addr=? terminal=pts/0 res=success'"]),
    ("password_changed", ["type=USER_CHAUTHTOK msg=audit({ts_epoch:ts}:{count}): pid={pid:pid} uid=0 auid={uid} ses={count} msg='op=PAM:chauthtok grantors=pam_unix acct=\"{plain_user:user}\" exe=\"/usr/bin/passwd\" hostname=? addr=? terminal=pts/0 res=success'"]),
    ("config_change", [
        "type=CONFIG_CHANGE msg=audit({ts_epoch:ts}:{count}): auid={uid} ses={count} op=add_rule key=\"{word}\" list=4 res=1",
        "type=CONFIG_CHANGE msg=audit({ts_epoch:ts}:{count}): op=set audit_enabled=0 old=1 auid={uid} ses={count} res=1",
        "type=PATH msg=audit({ts_epoch:ts}:{count}): item=0 name=\"{path:path}\" inode={count} dev=fd:01 mode=0100640 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL",
    ]),
    ("service_crash", ["type=ANOM_ABEND msg=audit({ts_epoch:ts}:{count}): auid={uid} uid={uid} gid={uid} ses={count} pid={pid:pid} comm=\"{program:pname}\" exe=\"/usr/bin/{program}\" sig={|11|6} res=1"]),
    ("service_start", ["type=SERVICE_START msg=audit({ts_epoch:ts}:{count}): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='unit={unit:pname} comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success'"]),
    ("service_stop", ["type=SERVICE_STOP msg=audit({ts_epoch:ts}:{count}): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='unit={unit:pname} comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? res=success'"]),
    ("other", ["type=CWD msg=audit({ts_epoch:ts}:{count}): cwd=\"{path}\"", "type=BPF msg=audit({ts_epoch:ts}:{count}): prog-id={count} op=LOAD"]),
])

_DOCKER = 'time="{ts_iso:ts}" level={|info|warning|error} msg='
DOCKER = make_family("docker", "system", ("dockerd", "containerd", "docker"), "syslog", [
    ("service_crash", [
        _DOCKER + '"Container {container} failed to exit within 10s of signal 15 - using the force" container={container}',
        _DOCKER + '"Handler for POST /v1.{count}/containers/{container}/start returned error: failed to create task for container: OCI runtime create failed"',
        _DOCKER + '"shim reaped" id={container}',
        "{container_name} exited with code {exit_code}",
    ]),
    ("service_start", [
        _DOCKER + '"Daemon has completed initialization"',
        _DOCKER + '"starting signal loop" namespace=moby path=/run/containerd/io.containerd.runtime.v2.task/moby/{container} pid={pid:pid} runtime=io.containerd.runc.v2',
        "Container {container_name}  Started",
    ]),
    ("service_stop", [_DOCKER + '"Processing signal \'terminated\'"', "Container {container_name}  Stopped"]),
    ("connection_opened", [_DOCKER + '"API listen on [::]:2375"', _DOCKER + '"API listen on /run/docker.sock"']),
    ("web_request", [_DOCKER + '"Calling {method:method} /v1.{count}/containers/json"']),
    ("other", (3.0, [
        _DOCKER + '"ignoring event" container={container} module=libcontainerd namespace=moby topic=/tasks/delete type="*events.TaskDelete"',
        _DOCKER + '"shim disconnected" id={container} namespace=moby',
        _DOCKER + '"cleaning up dead shim" namespace=moby',
        _DOCKER + '"Layer sha256:{hex_id} cleaned up"',
        _DOCKER + '"Pulling image {image}"',
        _DOCKER + '"loading plugin \\"io.containerd.snapshotter.v1.overlayfs\\"..." type=io.containerd.snapshotter.v1',
    ])),
])

_KLOG = "{klog_level}{klog_ts:ts} {pid:pid} {|kubelet.go|pod_workers.go|kuberuntime_manager.go|prober.go|scope.go}:{count}] "
KUBELET = make_family("kubelet", "system", ("kubelet", "k3s", "kube-apiserver"), "syslog", [
    ("service_crash", [
        _KLOG + '"Error syncing pod, skipping" err="failed to \\"StartContainer\\" for \\"{word}\\" with CrashLoopBackOff: \\"back-off 5m0s restarting failed container={word} pod={pod}_{namespace}({uuid})\\"" pod="{namespace}/{pod}" podUID="{uuid}"',
        _KLOG + '"Probe failed" probeType="Liveness" pod="{namespace}/{pod}" podUID="{uuid}" containerName="{word}" probeResult="failure" output="Get \\"http://{ipv4}:{port}/healthz\\": dial tcp {ipv4}:{port}: connect: connection refused"',
        _KLOG + '"Container exited with non-zero code" pod="{namespace}/{pod}" containerName="{word}" exitCode={exit_code}',
    ]),
    ("service_stop", [_KLOG + '"Killing container with a grace period" pod="{namespace}/{pod}" podUID="{uuid}" containerName="{word}" containerID="containerd://{hex_id}" gracePeriod=30']),
    ("service_start", [_KLOG + '"SyncLoop ADD" source="api" pods=["{namespace}/{pod}"]', _KLOG + '"Started container" pod="{namespace}/{pod}" containerName="{word}"']),
    ("login_failed", [_KLOG + '"Unable to authenticate the request" err="[invalid bearer token, service account token has expired]"',
                      'E{klog_ts:ts} {pid:pid} authentication.go:73] "Unable to authenticate the request" err="x509: certificate signed by unknown authority" client="{ip:sip}:{port:sport}"']),
    ("other", (2.0, [
        _KLOG + '"SyncLoop (PLEG): event for pod" pod="{namespace}/{pod}" event={{"ID":"{uuid}","Type":"ContainerStarted","Data":"{hex_id}"}}',
        _KLOG + '"RemoveContainer" containerID="{hex_id}"',
        _KLOG + '"Image garbage collection succeeded"',
        _KLOG + '"Volume detached for volume \\"kube-api-access-{alnum_5}\\" (UniqueName: \\"kubernetes.io/projected/{uuid}-kube-api-access\\") on node \\"{node}\\" DevicePath \\"\\""',
    ])),
])

CLAMAV = make_family("clamav", "system", ("clamd", "freshclam", "clamav", "clamonacc"), "syslog", [
    ("malware_detected", (3.0, [
        "{path:path}: {malware} FOUND",
        "{ts_apache_error:ts} -> {path:path}: {malware} FOUND",
        "ScanOnAccess: {path:path}: {malware} FOUND",
        "{path:path}: {malware}({hex_id}:{count}) FOUND",
        "{path:path}: {malware} FOUND (moved to '/var/quarantine/{alnum_5}')",
        "LibClamAV Warning: {path:path} infected with {malware}",
    ])),
    ("other", [
        "SelfCheck: Database status OK.",
        "daily.cld database is up-to-date (version: {count}, sigs: {count}, f-level: 90, builder: raynman)",
        "daily.cld updated (version: {count}, sigs: {count}, f-level: 90, builder: raynman)",
        "Database correctly reloaded ({count} signatures)",
        "{path:path}: OK",
        "ClamAV update process started at {ts_apache_error}",
        "Received {small} file descriptor(s) from systemd.",
    ]),
])

NOISE = make_family("system_noise", "system", ("rsyslogd", "logrotate", "apt", "snapd", "dbus-daemon", "systemd-resolved",
                                                "systemd-journald", "unattended-upgrade", "udisksd", "NetworkManager",
                                                "avahi-daemon", "smartd", "multipathd", "thermald"), "syslog", [
    ("other", [
        " [origin software=\"rsyslogd\" swVersion=\"8.2302.0\" x-pid=\"{pid}\" x-info=\"https://www.rsyslog.com\"] rsyslogd was HUPed",
        "imuxsock: Acquired UNIX socket '/run/systemd/journal/syslog' (fd 3) from systemd.  [v8.2302.0]",
        "action 'action-{small}-builtin:omfwd' suspended (module 'builtin:omfwd'), retry 0. There should be messages before this one giving the reason for suspension. [v8.2302.0 try https://www.rsyslog.com/e/2007 ]",
        "Journal stopped",
        "Runtime Journal (/run/log/journal/{hex_id}) is {count}.{small}M, max {count}.{small}M, {count}.{small}M free.",
        "error: skipping \"/var/log/{word}.log\" because parent directory has insecure permissions",
        "[system] Successfully activated service 'org.freedesktop.{word}1'",
        "Using degraded feature set UDP instead of UDP+EDNS0 for DNS server {ip}.",
        "Server returned error NXDOMAIN, mitigating potential DNS violation DVE-2018-0001, retrying transaction with reduced feature level UDP.",
        "Device: /dev/sda [SAT], SMART Usage Attribute: 194 Temperature_Celsius changed from {count} to {count}",
        "Removing linux-image-6.1.0-{count}-amd64 (6.1.{count}-1)",
        "No packages found that can be upgraded unattended and no pending auto-removals",
        "Joining mDNS multicast group on interface {iface}.IPv4 with address {ipv4}.",
        "<info>  [{ts_epoch}] device ({iface}): state change: activated -> deactivating (reason 'user-requested', sys-iface-state: 'managed')",
        "Refreshing snap \"core22\"",
        "{word} is not a valid tty, skipping",
        "message repeated {small} times: [ {word} {word} ]",
        "-- MARK --",
    ]),
])

FAMILIES: tuple[Family, ...] = (SYSTEMD, CRON, KERNEL, AUDITD, DOCKER, KUBELET, CLAMAV, NOISE)
