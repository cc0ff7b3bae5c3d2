"""The SQL of the source manifest (:mod:`memscore_core.store.manifest`), parameterised; lists travel as JSON."""

from memscore_core.store.queries import each, values

MARK_COLUMNS = "path, size, mtime_ns, consumed, lines, conversations, head_hash, tail_hash, content_hash, vanished_at"

MARKS = f"SELECT {MARK_COLUMNS} FROM source_files WHERE scope = ? ORDER BY path"
DELETE_MARKS = f"DELETE FROM source_files WHERE scope = ? AND list_contains({values('VARCHAR')}, path)"
INSERT_MARKS = f"""
INSERT INTO source_files (scope, model, config_hash, run_id, read_at, {MARK_COLUMNS})
SELECT ?, ?, ?, ?, ?, {each("VARCHAR")}, {each("BIGINT")}, {each("BIGINT")}, {each("BIGINT")}, {each("BIGINT")},
       {each("BIGINT")}, {each("VARCHAR")}, {each("VARCHAR")}, {each("VARCHAR")}, NULL
"""
MARK_VANISHED = f"""
UPDATE source_files SET vanished_at = ?
WHERE scope = ? AND vanished_at IS NULL AND list_contains({values('VARCHAR')}, path)
"""
