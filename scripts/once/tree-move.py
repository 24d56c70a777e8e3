#!/usr/bin/env python3
# One-time tool, kept only until it is applied: the tree move of issue 19 item 8 (git mv plus path
# rewrites). Delete it in the commit that applies it.
"""Issue 19 item 8: the tree move. Run from the repo root on a clean tree: git mv + path rewrite.
Files that helpers might have deleted are skipped."""
import os, re, subprocess, sys

MOVES = [  # (old file, new file)
    ("src/api/request.rs", "src/http/request.rs"),
    ("src/api/error.rs", "src/chain/api_error.rs"),
    ("src/api/outcome.rs", "src/chain/outcome.rs"),
    ("src/chain.rs", "src/chain/mod.rs"),
    ("src/auth/mod.rs", "src/chain/auth_step.rs"),
    ("src/auth/remote.rs", "src/chain/remote_auth.rs"),
    ("src/calllog.rs", "src/chain/log_step.rs"),
    ("src/server/mod.rs", "src/http/server/mod.rs"),
    ("src/server/body.rs", "src/http/server/body.rs"),
    ("src/server/connections.rs", "src/http/server/connections.rs"),
    ("src/server/deadlines.rs", "src/http/server/deadlines.rs"),
    ("src/routes.rs", "src/http/routes.rs"),
    ("src/client_address.rs", "src/http/client_address.rs"),
    ("src/public_address.rs", "src/http/public_address.rs"),
    ("src/rate_limit.rs", "src/http/rate_limit.rs"),
    ("src/openapi.rs", "src/http/openapi.rs"),
    ("src/metrics.rs", "src/http/metrics.rs"),
    ("src/cache.rs", "src/support/cache.rs"),
    ("src/clock.rs", "src/support/clock.rs"),
    ("src/ids.rs", "src/support/ids.rs"),
    ("src/secrets.rs", "src/support/secrets.rs"),
    ("src/cli.rs", "src/cli/args.rs"),
    ("src/config.rs", "src/cli/config.rs"),
    ("src/admin/mod.rs", "src/cli/commands.rs"),
    ("src/admin/clients.rs", "src/cli/client_commands.rs"),
    ("src/admin/limits.rs", "src/cli/limit_commands.rs"),
    ("src/admin/reports.rs", "src/cli/report_commands.rs"),
    ("src/admin/table.rs", "src/cli/table.rs"),
    ("src/admin/users.rs", "src/cli/user_commands.rs"),
    ("src/manage/mod.rs", "src/operator/mod.rs"),
    ("src/manage/audit_log.rs", "src/operator/audit_log.rs"),
    ("src/manage/call_filters.rs", "src/operator/call_filters.rs"),
    ("src/manage/clients.rs", "src/operator/manage_clients.rs"),
    ("src/manage/users.rs", "src/operator/manage_users.rs"),
    ("src/manage/usage.rs", "src/operator/counters.rs"),
    ("src/console/audit.rs", "src/console/audit_page.rs"),
    ("src/console/calls.rs", "src/console/calls_page.rs"),
    ("src/console/clients.rs", "src/console/clients_page.rs"),
    ("src/console/users.rs", "src/console/users_page.rs"),
    ("src/oauth/codes.rs", "src/oauth/auth_codes.rs"),
    ("src/oauth/error.rs", "src/oauth/oauth_error.rs"),
    ("src/clients.rs", "src/oauth/client_rules.rs"),
    ("src/client_names.rs", "src/oauth/client_names.rs"),
    ("src/userinfo.rs", "src/oauth/userinfo.rs"),
    ("src/users.rs", "src/web/accounts.rs"),
    ("src/web/session.rs", "src/web/browser_session.rs"),
    ("src/quota.rs", "src/quota/mod.rs"),
    ("src/db/mod.rs", "src/store/sqlite/mod.rs"),
    ("src/db/writer.rs", "src/store/sqlite/writer.rs"),
    ("src/db/file.rs", "src/store/sqlite/file.rs"),
    ("src/db/lock.rs", "src/store/sqlite/lock.rs"),
    ("src/db/backup.rs", "src/store/sqlite/backup.rs"),
    ("src/db/owner.rs", "src/store/sqlite/owner.rs"),
    ("src/db/health.rs", "src/store/sqlite/health.rs"),
    ("src/db/housekeeping.rs", "src/store/housekeeping.rs"),
    ("src/db/retention.rs", "src/store/retention.rs"),
    ("src/db/rollups.rs", "src/store/rollups.rs"),
]

# Module paths, longest first. Applied to `crate::`, `gpt_todo::` prefixes.
PATHS = [
    ("api::request", "http::request"),
    ("api::error", "chain::api_error"),
    ("api::outcome", "chain::outcome"),
    ("auth::remote", "chain::remote_auth"),
    ("auth", "chain::auth_step"),
    ("calllog", "chain::log_step"),
    ("server", "http::server"),
    ("routes", "http::routes"),
    ("client_address", "http::client_address"),
    ("public_address", "http::public_address"),
    ("rate_limit", "http::rate_limit"),
    ("openapi", "http::openapi"),
    ("metrics", "http::metrics"),
    ("cache", "support::cache"),
    ("clock", "support::clock"),
    ("ids", "support::ids"),
    ("secrets", "support::secrets"),
    ("admin::clients", "cli::client_commands"),
    ("admin::limits", "cli::limit_commands"),
    ("admin::reports", "cli::report_commands"),
    ("admin::table", "cli::table"),
    ("admin::users", "cli::user_commands"),
    ("admin", "cli::commands"),
    ("config", "cli::config"),
    ("cli", "cli::args"),
    ("manage::clients", "operator::manage_clients"),
    ("manage::users", "operator::manage_users"),
    ("manage::usage", "operator::counters"),
    ("manage", "operator"),
    ("console::audit", "console::audit_page"),
    ("console::calls", "console::calls_page"),
    ("console::clients", "console::clients_page"),
    ("console::users", "console::users_page"),
    ("oauth::codes", "oauth::auth_codes"),
    ("oauth::error", "oauth::oauth_error"),
    ("clients", "oauth::client_rules"),
    ("client_names", "oauth::client_names"),
    ("userinfo", "oauth::userinfo"),
    ("users", "web::accounts"),
    ("web::session", "web::browser_session"),
    ("db::housekeeping", "store::housekeeping"),
    ("db::tokens", "store::tokens"),
    ("db::rollups", "store::rollups"),
    ("db::retention", "store::retention"),
    ("db", "store::sqlite"),
]

def git(*args):
    subprocess.run(["git", *args], check=True)

NAMES = sorted(PATHS, key=lambda p: -len(p[0]))
TABLE = dict(NAMES)
ALT = "|".join(re.escape(o) for o, _ in NAMES)
PREFIXED = re.compile(r"\b(crate|gpt_todo)::(" + ALT + r")\b(?!_)(::\{self\b(?!\s+as\b)|;)?")
GROUPED = re.compile(r"\buse (crate|gpt_todo)::\{((?:[^{}]|\{[^{}]*\})*)\};")

def one(prefix, old, tail):
    new = TABLE[old]
    alias = old.split("::")[-1]
    renamed = new.split("::")[-1] != alias
    if tail and tail.startswith("::{self") and renamed:
        return prefix + "::" + new + "::{self as " + alias
    if tail == ";" and renamed:
        return prefix + "::" + new + " as " + alias + ";"
    return prefix + "::" + new + (tail or "")

def split_top(items):
    out, depth, cur = [], 0, ""
    for c in items:
        if c == "{": depth += 1
        if c == "}": depth -= 1
        if c == "," and depth == 0:
            out.append(cur); cur = ""
        else:
            cur += c
    if cur.strip(): out.append(cur)
    return [i.strip() for i in out if i.strip()]

def rewrite_group(m):
    prefix, items = m.group(1), split_top(m.group(2))
    new_items = []
    for item in items:
        probe = prefix + "::" + item + ";"
        done = PREFIXED.sub(lambda x: one(x.group(1), x.group(2), x.group(3)), probe)
        new_items.append(done[len(prefix) + 2:-1])
    return "use " + prefix + "::{" + ", ".join(new_items) + "};"

def rewrite_paths(text):
    text = GROUPED.sub(rewrite_group, text)
    return PREFIXED.sub(lambda m: one(m.group(1), m.group(2), m.group(3)), text)

# Bare paths through a kept alias (`manage::users::x` after `use crate::operator as manage`).
ALIASED = [(r"(?<![:\w])manage::users\b", "manage::manage_users"), (r"(?<![:\w])manage::clients\b", "manage::manage_clients"),
           (r"(?<![:\w])manage::usage\b", "manage::counters"), (r"(?<![:\w])db::housekeeping\b", "crate::store::housekeeping"),
           (r"(?<![:\w])db::retention\b", "crate::store::retention"), (r"(?<![:\w])db::tokens\b", "crate::store::tokens"),
           (r"\{self as manage, clients::", "{self as manage, manage_clients::"),
           (r"(?<![:\w])admin::clients\b", "crate::cli::client_commands"), (r"(?<![:\w])admin::users\b", "crate::cli::user_commands")]

def main():
    for old, new in MOVES:
        if not os.path.exists(old):
            print("skip (gone):", old); continue
        os.makedirs(os.path.dirname(new), exist_ok=True)
        git("mv", old, new)
    files = subprocess.run(["git", "ls-files", "src", "tests", "examples", "fuzz/fuzz_targets", "benches"],
                           capture_output=True, text=True).stdout.split()
    for f in files:
        if not f.endswith(".rs") or not os.path.exists(f): continue
        s = open(f).read()
        if f.startswith("tests/"):
            # A test crate's own `crate::` is its own modules (tests/api/cli.rs is not ours).
            t = re.sub(r"\bgpt_todo::[\w:{}, ]+;?", lambda m: rewrite_paths(m.group(0)), s)  # noqa
            t = GROUPED.sub(lambda m: rewrite_group(m) if m.group(1) == "gpt_todo" else m.group(0), t)
        else:
            t = rewrite_paths(s)
        for a, b in ALIASED:
            t = re.sub(a, b, t)
        if t != s: open(f, "w").write(t)


def edit(path, pairs, regex=False):
    if not os.path.exists(path):
        print("no file:", path); return
    s = open(path).read()
    for a, b in pairs:
        s = re.sub(a, b, s) if regex else s.replace(a, b)
    open(path, "w").write(s)

def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").write(text)
    git("add", path)

def fixups():
    if os.path.exists("src/api/mod.rs"):
        git("rm", "-q", "src/api/mod.rs")
    if os.path.exists("src/db/tokens.rs"):
        git("mv", "src/db/tokens.rs", "src/store/tokens.rs")
    # lib.rs: the layers.
    s = open("src/lib.rs").read()
    start = s.index("pub mod "); end = s.index("\n\n", start)
    s = s[:start] + "\n".join("pub mod %s;" % m for m in
        ["chain", "cli", "console", "http", "mcp", "oauth", "operator", "quota", "store", "support", "todos", "web"]) + s[end:]
    open("src/lib.rs", "w").write(s)
    write("src/http/mod.rs", "//! HTTP: the server loop, the routes, the request line and body, the client's address, the\n"
          "//! public endpoints' rate limits, the metrics and the OpenAPI document.\n\n"
          "pub mod client_address;\npub mod metrics;\npub mod openapi;\npub mod public_address;\npub mod rate_limit;\n"
          "pub mod request;\npub mod routes;\npub mod server;\n")
    write("src/support/mod.rs", "//! What every layer uses and that knows none of them: ids, the clock, secrets, a cache.\n\n"
          "pub mod cache;\npub mod clock;\npub mod ids;\npub mod secrets;\n")
    write("src/cli/mod.rs", "//! The command line: its arguments, the server's configuration made from them, and the admin\n"
          "//! commands (which print what they did).\n\n"
          "pub mod args;\nmod client_commands;\npub mod commands;\npub mod config;\nmod limit_commands;\n"
          "mod report_commands;\nmod table;\nmod user_commands;\n")
    # chain: its steps as its own modules.
    s = open("src/chain/mod.rs").read()
    i = s.index("\nuse ")
    s = s[:i] + "\npub mod api_error;\npub mod auth_step;\npub mod log_step;\npub mod outcome;\npub mod remote_auth;\n" + s[i:]
    open("src/chain/mod.rs", "w").write(s)
    edit("src/chain/auth_step.rs", [("mod remote;\n", ""), ("pub use remote::RemoteUserinfo;", "pub use super::remote_auth::RemoteUserinfo;")])
    edit("src/chain/remote_auth.rs", [(r"\bsuper::", "super::auth_step::")], regex=True)
    for f in ["src/chain/api_error.rs", "src/chain/outcome.rs"]:
        edit(f, [(r"\bsuper::request::", "crate::http::request::"), (r"\bsuper::error::", "super::api_error::")], regex=True)
    edit("src/http/request.rs", [(r"\bsuper::error::", "crate::chain::api_error::"), (r"\bsuper::outcome::", "crate::chain::outcome::")], regex=True)
    # cli: the commands beside their helpers.
    edit("src/cli/commands.rs", [(r"\nmod (clients|limits|reports|table|users);", ""),
        (r"\bpub use clients::", "pub use super::client_commands::"), (r"\bpub use limits::", "pub use super::limit_commands::"),
        (r"(?<![:\w])clients::", "super::client_commands::"), (r"(?<![:\w])limits::", "super::limit_commands::"),
        (r"(?<![:\w])reports::", "super::report_commands::"), (r"(?<![:\w])users::", "super::user_commands::"),
        (r"(?<![:\w])table::", "super::table::")], regex=True)
    for f in ["src/cli/client_commands.rs", "src/cli/limit_commands.rs", "src/cli/report_commands.rs", "src/cli/user_commands.rs", "src/cli/table.rs"]:
        edit(f, [(r"\bsuper::limits\b", "super::limit_commands"), (r"\bsuper::clients\b", "super::client_commands"),
                 (r"\bsuper::reports\b", "super::report_commands"), (r"\bsuper::users\b", "super::user_commands"),
                 (r"(?m)^use super::(?!(limit_commands|client_commands|report_commands|user_commands|table)\b)", "use super::commands::")], regex=True)
    # store: SQLite's machinery under sqlite/, housekeeping and retention beside the aggregates.
    edit("src/store/sqlite/mod.rs", [(r"\npub mod (housekeeping|retention|rollups|tokens);", ""),
        (r"pub use housekeeping::Retention;", "pub use crate::store::housekeeping::Retention;"),
        (re.escape('include_str!("../../'), 'include_str!("../../../')], regex=True)
    edit("src/store/housekeeping.rs", [("use super::exec;", "use super::sqlite::exec;")])
    edit("src/store/sqlite/writer.rs", [("use super::housekeeping::Retention;", "use crate::store::housekeeping::Retention;"), ("use super::{DbError, checkpoint, exec, housekeeping, savepoint};",
        "use super::{DbError, checkpoint, exec, savepoint};\nuse crate::store::housekeeping;")])
    edit("src/lib.rs", [("pub use routes::", "pub use http::routes::"), (r"(?<![:\w])server::run", "http::server::run"),
        (r"(?<![:\w])routes::", "http::routes::"), (r"(?<![:\w])db::Retention", "store::housekeeping::Retention")], regex=True)
    s = open("src/store/mod.rs").read()
    s = s.replace("pub mod call_log;", "pub mod call_log;\npub mod housekeeping;\npub mod retention;\npub mod rollups;\npub mod sqlite;", 1)
    if os.path.exists("src/store/tokens.rs") and "pub mod tokens;" not in s:
        s = s.replace("pub mod todos;", "pub mod todos;\npub mod tokens;", 1)
    open("src/store/mod.rs", "w").write(s)
    # operator, console, oauth, web: names that say their job.
    edit("src/operator/mod.rs", [(r"pub mod clients;", "pub mod manage_clients;"), (r"pub mod usage;", "pub mod counters;"),
        (r"pub mod users;", "pub mod manage_users;"), (r"(?<![:\w])clients::", "manage_clients::"),
        (r"(?<![:\w])users::", "manage_users::"), (r"(?<![:\w])usage::", "counters::")], regex=True)
    for f in os.listdir("src/operator"):
        edit("src/operator/" + f, [(r"\bsuper::clients\b", "super::manage_clients"), (r"\bsuper::users\b", "super::manage_users"),
                                   (r"\bsuper::usage\b", "super::counters")], regex=True)
    edit("src/console/mod.rs", [(r"\bmod audit;", "mod audit_page;"), (r"\bmod calls;", "mod calls_page;"),
        (r"\bmod clients;", "mod clients_page;"), (r"\bmod users;", "mod users_page;"),
        (r"(?<![:\w])audit::", "audit_page::"), (r"(?<![:\w])calls::", "calls_page::"),
        (r"(?<![:\w])clients::", "clients_page::"), (r"(?<![:\w])users::", "users_page::")], regex=True)
    for f in os.listdir("src/console"):
        if f.endswith(".rs"):
            edit("src/console/" + f, [(r"\bsuper::audit\b", "super::audit_page"), (r"\bsuper::calls\b", "super::calls_page"),
                (r"\bsuper::clients\b", "super::clients_page"), (r"\bsuper::users\b", "super::users_page")], regex=True)
    edit("src/console/overview.rs", [("use super::{Ask, to_db, users};", "use super::{Ask, to_db, users_page};"),
        (r"(?<![:\w])users::", "users_page::")], regex=True)
    edit("src/oauth/mod.rs", [(r"\bmod codes;", "mod auth_codes;"), (r"\bmod error;", "pub mod oauth_error;"),
        (r"\bpub mod endpoints;", "pub mod client_names;\npub mod client_rules;\npub mod endpoints;"),
        (r"\bpub mod events;", "pub mod events;\npub mod userinfo;"),
        (r"(?<![:\w])codes::", "auth_codes::"), (r"(?<![:\w])error::", "oauth_error::")], regex=True)
    for f in os.listdir("src/oauth"):
        if f.endswith(".rs"):
            edit("src/oauth/" + f, [(r"\bsuper::codes\b", "super::auth_codes"), (r"\bsuper::error\b", "super::oauth_error"),
                                    (r"(?<![:\w])codes::", "auth_codes::")], regex=True)
    edit("src/web/mod.rs", [(r"pub mod session;", "pub mod browser_session;"), (r"pub mod hashing;", "pub mod accounts;\npub mod hashing;"),
        (r"(?<![:\w])session::", "browser_session::")], regex=True)
    for f in os.listdir("src/web"):
        if f.endswith(".rs"):
            edit("src/web/" + f, [(r"\bsuper::session\b", "super::browser_session")], regex=True)

if __name__ == "__main__":
    main()
    fixups()
