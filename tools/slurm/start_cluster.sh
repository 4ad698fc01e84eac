#!/usr/bin/env bash
# A one-node Slurm cluster on localhost, for the tests (CI) and for trying `tartan-fw sweep --launcher slurm`:
# installs slurm-wlm, munge, slurmdbd and MariaDB from the Debian packages when missing, writes the configs,
# and starts munged, mariadbd, slurmdbd, slurmctld and slurmd directly (no systemd). Idempotent: a daemon
# already running is left alone, so running it again only starts what stopped.
#
# Needs root on Debian/Ubuntu. Why each setting:
# - proctrack/linuxproc and task/none: no cgroups (containers rarely delegate them).
# - accounting through slurmdbd: submitit reads job states with sacct; without it every state is
#   UNKNOWN and a cancelled or failed job never counts as done.
# - AuthInfo=cred_expire=10: a requeued job may start again only after cred_expire seconds (120 by
#   default); with frequent scheduling a requeue takes about 12 s instead of two minutes.
# Logs: /var/log/slurm/. Stop: kill the pids in /run/slurm/*.pid, /run/munge/munged.pid, /run/mysqld/mysqld.pid.
set -euo pipefail

CLUSTER=tartan
NODE=$(hostname -s)
LOGS=/var/log/slurm

if ! command -v slurmctld >/dev/null || ! command -v slurmdbd >/dev/null || ! command -v mariadbd >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm slurmdbd slurm-client munge mariadb-server >/dev/null
fi

mkdir -p /etc/slurm /run/slurm /run/munge /run/mysqld /var/spool/slurmctld /var/spool/slurmd "$LOGS" /etc/munge
running() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# munge: the key once, then the daemon as its own user.
[[ -s /etc/munge/munge.key ]] || { dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none; }
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
running /run/munge/munged.pid || runuser -u munge -- munged

# MariaDB for slurmdbd, started directly.
chown mysql:mysql /run/mysqld
[[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
if ! running /run/mysqld/mysqld.pid; then
    setsid mariadbd --user=mysql --datadir=/var/lib/mysql --socket=/run/mysqld/mysqld.sock \
        --pid-file=/run/mysqld/mysqld.pid >>"$LOGS/mariadb.log" 2>&1 &
fi
for _ in $(seq 60); do mariadb -e 'select 1' >/dev/null 2>&1 && break; sleep 0.5; done
mariadb -e "CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
            GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"

cat >/etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=/run/slurm/slurmdbd.pid
LogFile=$LOGS/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
chmod 600 /etc/slurm/slurmdbd.conf

CPUS=$(nproc)
MEMORY=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
cat >/etc/slurm/slurm.conf <<EOF
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire=10
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobRequeue=1
KillWait=10
MinJobAge=600
MpiDefault=none
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEMORY State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

if ! running /run/slurm/slurmdbd.pid; then
    slurmdbd
    for _ in $(seq 60); do sacctmgr -n list cluster >/dev/null 2>&1 && break; sleep 0.5; done
fi
sacctmgr -i -Q add cluster "$CLUSTER" >/dev/null 2>&1 || true  # already there on a second start
running /run/slurm/slurmctld.pid || slurmctld
running /run/slurm/slurmd.pid || slurmd

for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
        echo "slurm: one-node cluster '$CLUSTER' up on $NODE ($CPUS CPUs); logs in $LOGS"
        exit 0
    fi
    sleep 0.5
done
echo "slurm: the node did not come up; see $LOGS/slurmctld.log and $LOGS/slurmd.log" >&2
exit 1
