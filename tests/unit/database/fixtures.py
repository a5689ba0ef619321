"""Real outputs of the facts' client calls (PostgreSQL 15 + PgBouncer 1.x, MariaDB 10.11), as lab db1 printed them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from remediations.connections.recording import RecordingConnection
from remediations.run.target import RunContext, Target
from tests.unit.helpers import host

PG = ("@@main\n15.20 (Debian 15.20-0+deb12u1)\t100\t4\t2124\n@@states\nactive\t2\nidle\t2\n"
      "@@sessions\n2116\tapp\tapp\tactive\tclient backend\t612\tf\t\t1796564753.456514\t"
      "SELECT pg_sleep(600)\n@@replication\nf\t\t0\t\n")

PG_BUSY = (
    "@@main\n15.20 (Debian 15.20-0+deb12u1)\t100\t9\t2124\n@@states\nactive\t5\n"
    "idle in transaction\t1\nidle\t3\n@@sessions\n"
    "2116\tapp\tapp\tactive\tclient backend\t612\tf\t2117\t1796564753.456514\t"
    "UPDATE orders SET paid = true WHERE id = 7\n"
    "2117\tapp\tapp\tidle in transaction\tclient backend\t500\tf\t\t1796564760.1\t"
    "SELECT * FROM orders WHERE id = 7 FOR UPDATE\n"
    "2118\tpostgres\tapp\tactive\tclient backend\t400\tt\t\t1796564770.2\tVACUUM FULL big\n"
    "2119\trepl\t\tactive\twalsender\t9000\tf\t\t1796564000.0\tSTART_REPLICATION 0/3000000\n"
    "2120\treporting\tapp\tactive\tclient backend\t300\tf\t2116,2117\t1796564780.3\t"
    "ALTER USER reporting PASSWORD 'hunter22secret'\n"
    "2124\tpostgres\tpostgres\tactive\tclient backend\t100\tt\t\t1796564800.0\tSELECT '@@main'\n"
    "@@replication\nf\t\t1\t0.25\n")

PGBOUNCER = (
    "database\tuser\tcl_active\tcl_waiting\tcl_active_cancel_req\tcl_waiting_cancel_req\t"
    "sv_active\tsv_active_cancel\tsv_being_canceled\tsv_idle\tsv_used\tsv_tested\tsv_login\t"
    "maxwait\tmaxwait_us\tpool_mode\n"
    "app\tapp\t0\t0\t0\t0\t0\t0\t0\t0\t1\t0\t0\t0\t0\tsession\n"
    "pgbouncer\tpgbouncer\t1\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\tstatement\n"
    "database\ttotal_xact_count\ttotal_query_count\ttotal_received\ttotal_sent\t"
    "total_xact_time\ttotal_query_time\ttotal_wait_time\tavg_xact_count\tavg_query_count\t"
    "avg_recv\tavg_sent\tavg_xact_time\tavg_query_time\tavg_wait_time\n"
    "app\t133\t144\t8670\t8138\t45594\t43676\t9173\t0\t0\t35\t39\t323\t323\t2\n"
    "pgbouncer\t10\t10\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\n")

MYSQL = (
    "@@main\n10.11.19-MariaDB-0+deb12u1\t151\t40\n@@status\nMax_used_connections\t3\n"
    "Slaves_connected\t0\nSlow_queries\t2\nThreads_connected\t3\n@@super\n"
    "'mysql'@'localhost'\n'root'@'localhost'\n@@sessions\n"
    "238\tapp\tapp\tQuery\t612\tUser sleep\tSELECT SLEEP(600)\n"
    "5\tsystem user\t\tDaemon\t9000\tInnoDB purge worker\t\n"
    "6\tevent_scheduler\t\tDaemon\t9000\tWaiting on empty queue\t\n"
    "7\trepl\t\tBinlog Dump\t8000\tMaster has sent all binlog to slave\t\n"
    "41\tmysql\tapp\tQuery\t300\tUser sleep\tSELECT SLEEP(400)\n"
    "239\treporting\tapp\tQuery\t100\tSending data\tSELECT a,\\tb FROM t\\nWHERE x = 1\n"
    "40\troot\t\tQuery\t0\tFilling schema table\tSELECT ID, USER FROM information_schema.PROCESSLIST\n"
    "@@replica\n")

UNITS_PG = ("Id=postgresql.service\nLoadState=loaded\n\nId=mariadb.service\nLoadState=not-found\n\n"
            "Id=mysql.service\nLoadState=not-found\n\nId=pgbouncer.service\nLoadState=loaded\n")
UNITS_BOTH = ("Id=postgresql.service\nLoadState=loaded\n\nId=mariadb.service\nLoadState=loaded\n\n"
              "Id=mariadb.service\nLoadState=loaded\n\nId=pgbouncer.service\nLoadState=not-found\n")
UNITS_NONE = ("Id=postgresql.service\nLoadState=not-found\n\nId=mariadb.service\n"
              "LoadState=not-found\n\nId=mysql.service\nLoadState=not-found\n\n"
              "Id=pgbouncer.service\nLoadState=not-found\n")


def target(conn: Any = None, *, check: bool = False, run_id: str = "r1", **hostvars: Any) -> Target:
    return Target(host("db1", **hostvars), conn or RecordingConnection("db1"),
                  RunContext(run_id, datetime(2026, 12, 6, tzinfo=UTC), check=check))
