"""Code hygiene: no SQL built from data by string formatting, no credentials in the repository.

The simulator's rejection of requests without a valid token is tested over HTTP in
``tests/integration/test_simulator_http.py::test_requests_without_a_valid_token_get_401``;
:func:`test_simulator_token_rejection_is_tested` keeps that reference honest.
"""

from __future__ import annotations

import ast
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from zairyu_sync.config import project_path

pytestmark = pytest.mark.unit

ROOT = project_path()
SCANNED_PACKAGES = ("plugins", "dags")
#: Calls whose first argument (or ``sql=``/``statement=``) is SQL text.
SQL_CALLS = frozenset(
    {
        "execute",
        "executemany",
        "executescript",
        "exec_driver_sql",
        "text",
        "read_sql",
        "read_sql_query",
        "read_sql_table",
    }
)
SQL_KEYWORDS = frozenset({"sql", "statement", "stmt", "query"})
#: A justified exception is marked on the call's line with this comment and a reason, e.g. DDL
#: whose identifiers were checked against ``IDENTIFIER`` just before. There are none today.
ALLOW_MARKER = "# sql-format-ok:"
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


# --- SQL built by formatting ----------------------------------------------------------------


def _is_formatted(node: ast.AST) -> bool:
    """True for an f-string with placeholders, ``%``/``+`` on strings, or ``.format()``."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(value, ast.FormattedValue) for value in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    )


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _assigned_formatted(scope: ast.AST) -> set[str]:
    """Names assigned (anywhere in the scope) from a formatted string expression."""
    names: set[str] = set()
    for node in ast.walk(scope):
        if isinstance(node, ast.Assign) and _is_formatted(node.value):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            if _is_formatted(node.value) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add | ast.Mod):
            if isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return names


def formatted_sql_calls(source: str, filename: str = "<source>") -> list[str]:
    """``file:line call`` for every SQL call whose SQL argument is built by string formatting.

    A Name argument counts as formatted when its innermost enclosing function (or the module)
    assigns it from a formatted expression. Lines carrying :data:`ALLOW_MARKER` are skipped.
    """
    tree = ast.parse(source, filename)
    lines = source.splitlines()
    scope_of: dict[int, ast.AST] = {}

    def visit(node: ast.AST, scope: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else scope
            scope_of[id(child)] = inner
            visit(child, inner)

    visit(tree, tree)
    tainted: dict[int, set[str]] = {}
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or _call_name(node) not in SQL_CALLS:
            continue
        scope = scope_of.get(id(node), tree)
        if id(scope) not in tainted:
            tainted[id(scope)] = _assigned_formatted(scope)
        arguments = list(node.args[:1]) + [
            keyword.value for keyword in node.keywords if keyword.arg in SQL_KEYWORDS
        ]
        bad = any(
            _is_formatted(argument)
            or (isinstance(argument, ast.Name) and argument.id in tainted[id(scope)])
            for argument in arguments
        )
        if bad and ALLOW_MARKER not in lines[node.lineno - 1]:
            found.append(f"{filename}:{node.lineno} {_call_name(node)}")
    return sorted(found, key=lambda entry: int(entry.split(":")[1].split(" ")[0]))


def _python_files() -> list[Path]:
    return sorted(path for package in SCANNED_PACKAGES for path in (ROOT / package).rglob("*.py"))


def test_scanner_catches_every_formatting_style() -> None:
    source = """
import sqlalchemy as sa
def f(conn, table, value):
    conn.execute(sa.text(f"SELECT * FROM {table}"))
    conn.exec_driver_sql("DELETE FROM t WHERE id = %s" % value)
    conn.execute("SELECT * FROM t WHERE name = '" + value + "'")
    query = "SELECT {}".format(value)
    pd.read_sql(query, conn)
    conn.execute(sql=f"DROP TABLE {table}")
def g(conn):
    conn.execute(sa.text("SELECT 1 WHERE x = :x"), {"x": 1})
    conn.exec_driver_sql(f"SET search_path TO {schema}")  # sql-format-ok: schema checked
"""
    found = formatted_sql_calls(source)
    assert [entry.split(" ")[1] for entry in found] == [
        "text",
        "exec_driver_sql",
        "execute",
        "read_sql",
        "execute",
    ]


def test_no_sql_built_by_string_formatting() -> None:
    files = _python_files()
    assert len(files) > 20  # the scan really looked at the package
    found = [
        entry
        for path in files
        for entry in formatted_sql_calls(
            path.read_text(encoding="utf-8"), str(path.relative_to(ROOT))
        )
    ]
    assert found == []


def test_allow_listed_sql_formatting_has_a_reason_and_validated_identifiers() -> None:
    marked = [
        (path, line)
        for path in _python_files()
        for line in path.read_text(encoding="utf-8").splitlines()
        if ALLOW_MARKER in line
    ]
    for path, line in marked:
        reason = line.split(ALLOW_MARKER, 1)[1].strip()
        assert len(reason) >= 10, f"{path}: an allow-listed SQL call needs a reason"
    # the identifier rule an allow-listed DDL call must apply
    assert IDENTIFIER.match("zairyu_test_1")
    for hostile in ("x; DROP TABLE t", 'a"b', "A", "1abc", "x" * 64, "a b", "é"):
        assert not IDENTIFIER.match(hostile)


def test_ruff_sql_injection_rule_is_selected() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lint = config["tool"]["ruff"]["lint"]
    selected = set(lint.get("select", [])) | set(lint.get("extend-select", []))
    assert selected & {"S608", "S60", "S6", "S", "ALL"}
    assert "S608" not in set(lint.get("ignore", [])) | set(lint.get("extend-ignore", []))


# --- credentials --------------------------------------------------------------------------------

SECRET_PATTERNS = {
    "password in a URL": re.compile(
        r"[a-z][a-z0-9+.\-]*://[^/\s:@'\"<>{}]+:[^/\s@'\"<>{}]+@", re.IGNORECASE
    ),
    "credential literal": re.compile(
        r"""\b\w*(password|passwd|secret|token|api_key)["']?\s*[:=]\s*["']"""
        r"""(?!\.\.\.)[^"'\s{}$<]{4,}["']""",
        re.IGNORECASE,
    ),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "Slack webhook": re.compile(r"hooks\.slack\.com/services/T[A-Z0-9]+/"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
}
#: (path, exact snippet) -> why it is not a credential.
SECRET_ALLOW_LIST = {
    (
        "plugins/zairyu_sync/immigration/simulator.py",
        'client_secret="secret"',
    ): "usage example in the SimulatorServer docstring (a local test double)",
}
SKIPPED_PREFIXES = ("tests/",)


def secret_findings(path: str, text: str) -> list[str]:
    """``path:line kind`` for every credential-looking snippet not on the allow-list."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for kind, pattern in SECRET_PATTERNS.items():
            for match in pattern.finditer(line):
                snippet = match.group(0)
                if any(
                    allowed_path == path and allowed in line
                    for allowed_path, allowed in SECRET_ALLOW_LIST
                ):
                    continue
                found.append(f"{path}:{number} {kind}: {snippet[:12]}...")
    return found


def _tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False, timeout=30
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [name for name in listed.stdout.decode().split("\0") if name]


def test_secret_patterns_detect_credentials() -> None:
    hostile = "\n".join(
        [
            'url = "postgresql://zairyu:hunter22@db.internal/erp"',
            'password="S3cr3t!x"',
            "client_secret: 'abcd1234efgh'",
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX",
            "xoxb-123456789012-abcdefghij",
        ]
    )
    kinds = [entry.split(" ", 1)[1].split(":")[0] for entry in secret_findings("x.py", hostile)]
    assert sorted(set(kinds)) == sorted(SECRET_PATTERNS)
    harmless = '"password": "Client secret"\npassword="..."\nsqlite:///path/erp.db\n{password}'
    assert secret_findings("x.py", harmless) == []


def test_no_credentials_in_tracked_files() -> None:
    found: list[str] = []
    for name in _tracked_files():
        if name.startswith(SKIPPED_PREFIXES):
            continue
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        found.extend(secret_findings(name, text))
    assert found == []


def test_demo_secrets_are_generated() -> None:
    """The demo's API client secret comes from ``secrets.token_urlsafe``, never a literal."""
    tree = ast.parse((ROOT / "plugins/zairyu_sync/demo.py").read_text(encoding="utf-8"))
    generated = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and ast.unparse(node.value.func) == "secrets.token_urlsafe"
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    passed = [
        keyword.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg == "client_secret"
    ]
    assert passed, "demo.py no longer starts the simulator with a client_secret"
    for value in passed:
        assert isinstance(value, ast.Name) and value.id in generated


def test_simulator_token_rejection_is_tested() -> None:
    path = ROOT / "tests/integration/test_simulator_http.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert "test_requests_without_a_valid_token_get_401" in names
