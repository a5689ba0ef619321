"""The SQL the facts are read with: several statements per client call, sections marked `@@name`.

Numbers in it come from validated floats only; nothing from a user is put in SQL text.
"""

from __future__ import annotations


def postgresql_statements(older_than: float) -> list[str]:
    """The statements `psql` runs for the facts, one `-c` each (markers included)."""
    secs = f"{older_than:.3f}"
    return [
        "SELECT '@@main'",
        "SELECT current_setting('server_version'), current_setting('max_connections'), "
        "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), "
        "pg_backend_pid()",
        "SELECT '@@states'",
        "SELECT coalesce(state, ''), count(*) FROM pg_stat_activity "
        "WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 1",
        "SELECT '@@sessions'",
        sessions_sql_postgresql(secs),
        "SELECT '@@replication'",
        "SELECT pg_is_in_recovery(), "
        "coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::text, ''), "
        "(SELECT count(*) FROM pg_stat_replication), "
        "coalesce((SELECT max(extract(epoch FROM replay_lag)) FROM pg_stat_replication)::text, '')",
    ]


def sessions_sql_postgresql(secs: str) -> str:
    """Sessions not idle whose query started more than `secs` seconds ago, longest first."""
    return ("SELECT a.pid, coalesce(a.usename, ''), coalesce(a.datname, ''), "
            "coalesce(a.state, ''), coalesce(a.backend_type, ''), "
            "floor(extract(epoch FROM now() - a.query_start))::bigint, "
            "CASE WHEN coalesce(r.rolsuper, false) THEN 't' ELSE 'f' END, "
            "array_to_string(pg_blocking_pids(a.pid), ','), "
            "extract(epoch FROM a.query_start)::text, "
            "regexp_replace(left(coalesce(a.query, ''), 400), '\\s+', ' ', 'g') "
            "FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid "
            "WHERE a.state IS DISTINCT FROM 'idle' AND a.query_start IS NOT NULL "
            f"AND a.query_start < now() - make_interval(secs => {secs}) ORDER BY 6 DESC")


def mysql_statements(older_than: float) -> list[str]:
    """The statements `mariadb -e` runs for the facts (markers included; the replica one last)."""
    return [
        "SELECT '@@main'",
        "SELECT VERSION(), @@max_connections, CONNECTION_ID()",
        "SELECT '@@status'",
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('Threads_connected', "
        "'Max_used_connections', 'Slow_queries', 'Slaves_connected')",
        "SELECT '@@super'",
        "SELECT DISTINCT GRANTEE FROM information_schema.USER_PRIVILEGES "
        "WHERE PRIVILEGE_TYPE = 'SUPER'",
        "SELECT '@@sessions'",
        sessions_sql_mysql(older_than),
        "SELECT '@@replica'",
        "SHOW REPLICA STATUS\\G",
    ]


def sessions_sql_mysql(older_than: float) -> str:
    """Threads not sleeping that have run their command at least `older_than` seconds."""
    return ("SELECT ID, USER, IFNULL(DB, ''), COMMAND, TIME, IFNULL(STATE, ''), "
            "LEFT(IFNULL(INFO, ''), 400) FROM information_schema.PROCESSLIST "
            f"WHERE COMMAND <> 'Sleep' AND TIME >= {older_than:.3f} ORDER BY TIME DESC")
