"""The ``pharmacy`` command. Every command calls the same services as the web app."""

from __future__ import annotations

import csv
import errno
import importlib
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import click

from pharmacy import clock, config
from pharmacy.domain import accounts
from pharmacy.domain.errors import PharmacyError
from pharmacy.domain.permissions import Role
from pharmacy.domain.printjobs import JobState  # a print job's states (no heavy import)

if TYPE_CHECKING:  # for the type checker; at run time each is imported by the first command that uses it
    from sqlalchemy.engine import Connection, Engine

    from pharmacy.printing import exports
    from pharmacy.services import accounts as account_service
    from pharmacy.services import audit_check, bags, base, coldchain, demo, orders, sessions, setup, stock, tokens, trace, users


class _Lazy(ModuleType):
    """A module imported on first use. ``pharmacy --help`` and ``--version`` must answer at once: the
    services bring SQLAlchemy, pint's unit registry and ReportLab (about 1.3 s), which only the commands
    that touch the pharmacy need."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._target = name

    def __getattr__(self, attribute: str):
        module = importlib.import_module(self._target)
        self.__dict__.update(module.__dict__)  # later lookups do not come here again
        return getattr(module, attribute)


if not TYPE_CHECKING:
    exports = _Lazy("pharmacy.printing.exports")
    account_service = _Lazy("pharmacy.services.accounts")
    (audit_check, bags, base, coldchain, demo, orders, sessions, setup, stock, tokens, trace, users) = (
        _Lazy(f"pharmacy.services.{name}") for name in ("audit_check", "bags", "base", "coldchain", "demo", "orders",
                                                         "sessions", "setup", "stock", "tokens", "trace", "users"))

ROLES = tuple(role.value for role in Role)  # services.base.ROLES, without importing the services
RECALL_KINDS = ("vial", "diluent")  # services.trace.KINDS (tests/cli/test_cli_start.py keeps them equal)


class Context:
    def __init__(self) -> None:
        self._pharmacy: base.Pharmacy | None = None

    @property
    def pharmacy(self) -> base.Pharmacy:
        if self._pharmacy is None:
            settings = self._settings()
            self._pharmacy = base.build(settings)
            click.get_current_context().call_on_close(self._pharmacy.db.dispose)  # no connection outlives the command
            self._announce(settings)
            if click.get_current_context().command.name not in CREATE_THE_DATABASE:
                self._refuse_uninitialised(settings.sqlalchemy_url, self._pharmacy.db.engine)
        return self._pharmacy

    @contextmanager
    def plain_reads(self) -> Iterator[Connection]:
        """A read-only connection to the database, without the services, the ORM or the models (issue 16 point 7:
        the stock list answers at once); the same engine set-up as the pharmacy's (``db/engine.py``)."""
        from pharmacy.db.engine import make_engine

        settings = self._settings()
        engine = make_engine(settings.sqlalchemy_url)
        try:
            self._announce(settings)
            self._refuse_uninitialised(settings.sqlalchemy_url, engine)
            with engine.execution_options(readonly=True).connect() as connection, connection.begin():
                yield connection
        finally:
            engine.dispose()

    @staticmethod
    def _settings() -> config.Settings:
        try:
            return config.load()
        except config.ConfigError as error:
            raise click.ClickException(str(error)) from None

    @staticmethod
    def _announce(settings: config.Settings) -> None:
        click.echo(f"pharmacy: instance {settings.instance} · database {_safe_url(settings.sqlalchemy_url)}", err=True)

    @staticmethod
    def _refuse_uninitialised(url: str, engine: Engine) -> None:
        if not _initialised(url, engine):
            raise NoDatabase(_safe_url(url))


# the commands that may meet a database never initialised: they create it (or put a backup in its place)
CREATE_THE_DATABASE = frozenset({"init-db", "demo", "serve", "restore"})


class NoDatabase(click.ClickException):
    """A command run where no database was ever initialised (a wrong ``PHARMACY_INSTANCE``, a first run)."""

    def __init__(self, where: str) -> None:
        super().__init__(f"no database here — run `pharmacy init-db` ({where})")

    def show(self, file=None) -> None:
        click.echo(f"pharmacy: {self.message}", err=True)


def _initialised(database_url: str, engine: Engine) -> bool:
    """Whether the schema was ever created here: an SQLite file that exists, with its migrations table.
    Asked before the first query, so no empty SQLite file is left behind and no traceback is shown."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        if not Path(url.database).is_file():
            return False
    with engine.connect() as connection:
        return inspect(connection).has_table("alembic_version")


def _safe_url(url: str) -> str:
    """The database URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
    return url


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def _fail(error: PharmacyError) -> None:
    click.echo(f"Refused: {error.message}", err=True)
    sys.exit(1)


@click.group(help="Hospital pharmacy compounding and dose preparation (guided preparation, traceability, "
                  "GS1 bag labels).")
@click.version_option(package_name="pharmacy")
def main() -> None:
    pass


@main.command("init-db")
@pass_ctx
def init_db(ctx: Context) -> None:
    """Create or upgrade the database schema to the newest migration."""
    setup.init_db(ctx.pharmacy)
    click.echo("database is at the newest schema")


@main.command("demo")
@pass_ctx
def demo_cmd(ctx: Context) -> None:
    """Seed the demo pharmacy (idempotent) and print the demo users and passwords."""
    try:
        created = demo.seed(ctx.pharmacy)
    except PharmacyError as error:
        _fail(error)
    click.echo("demo data seeded" if created else "demo data already present: nothing changed")
    click.echo("demo users (user / password / role):")
    for username, _name, role, password in demo.USERS:
        click.echo(f"  {username:8} {password:22} {role}")


@main.group("users")
def users_group() -> None:
    """Manage users."""


# who acts, for the audit trail: an admin's user name, or nobody (the operator at the server, audited as "system")
BY = click.option("--by", default=None, metavar="ADMIN",
                  help="The admin doing it, named in the audit trail (default: the server's operator, audited as “system”).")


def _password(from_stdin: bool, prompt: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


@users_group.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", "full_name", default="", help="Full name as printed on labels and signatures.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--forced-change/--no-forced-change", default=True, show_default=True,
              help="The user must choose their own password at the first sign-in (the operator typed this one). "
                   "--no-forced-change only for the operator's own account, e.g. the first admin.")
@BY
@pass_ctx
def users_add(ctx: Context, username: str, role: str, full_name: str, password_stdin: bool, forced_change: bool,
              by: str | None) -> None:
    """Add a user (the password is asked for, never given on the command line)."""
    password = _password(password_stdin, "Password")
    try:
        users.add_user(ctx.pharmacy, by, username, full_name or username, role, password, must_change_password=forced_change)
    except PharmacyError as error:
        _fail(error)
    click.echo(f"user {accounts.normalise_username(username)} added as {role}"
               + (" (must change the password at the first sign-in)" if forced_change else ""))


@users_group.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_ctx
def users_list(ctx: Context, fmt: str) -> None:
    """List users with their role, and whether active, locked or due to change their password."""
    rows = [{"username": a.username, "name": a.full_name, "role": a.role, "active": a.active, "locked": a.locked,
             "must_change_password": a.must_change_password, "disabled_reason": a.disabled_reason}
            for a in account_service.list_users(ctx.pharmacy)]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _table(rows, ["username", "name", "role", "active", "locked", "must_change_password", "disabled_reason"])


@users_group.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the current password, then the new one twice, from standard input.")
@pass_ctx
def users_passwd(ctx: Context, username: str, password_stdin: bool) -> None:
    """A user changes their own password: the current one, then the new one twice (audited as the user)."""
    if password_stdin:
        current, new, repeated = (sys.stdin.readline().rstrip("\r\n") for _ in range(3))
    else:
        current = click.prompt("Current password", hide_input=True)
        new = click.prompt("New password", hide_input=True)
        repeated = click.prompt("New password again", hide_input=True)
    try:
        account_service.change_password(ctx.pharmacy, username, current, new, repeated)
    except PharmacyError as error:
        _fail(error)
    click.echo(f"password of {accounts.normalise_username(username)} changed")


@users_group.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@BY
@pass_ctx
def users_reset_password(ctx: Context, username: str, password_stdin: bool, by: str | None) -> None:
    """Set a new password for USERNAME, who must change it at the next sign-in (ends a lockout)."""
    password = _password(password_stdin, "New password")
    try:
        account_service.reset_password(ctx.pharmacy, by, username, password)
    except PharmacyError as error:
        _fail(error)
    click.echo(f"password of {accounts.normalise_username(username)} reset; it must be changed at the next sign-in")


@users_group.command("disable")
@click.argument("username")
@click.option("--reason", required=True, help="Why, in a few words (audited), e.g. “left the hospital”.")
@BY
@pass_ctx
def users_disable(ctx: Context, username: str, reason: str, by: str | None) -> None:
    """Disable USERNAME: no sign-in or signature; their sessions end and their API tokens are revoked."""
    try:
        revoked = account_service.disable_user(ctx.pharmacy, by, username, reason)
    except PharmacyError as error:
        _fail(error)
    click.echo(f"user {accounts.normalise_username(username)} disabled; {len(revoked)} API token(s) revoked")


@users_group.command("enable")
@click.argument("username")
@click.option("--reason", required=True, help="Why, in a few words (audited).")
@BY
@pass_ctx
def users_enable(ctx: Context, username: str, reason: str, by: str | None) -> None:
    """Enable USERNAME again (their old API tokens stay revoked)."""
    try:
        account_service.enable_user(ctx.pharmacy, by, username, reason)
    except PharmacyError as error:
        _fail(error)
    click.echo(f"user {accounts.normalise_username(username)} enabled")


@users_group.command("end-sessions")
@click.argument("username")
@BY
@pass_ctx
def users_end_sessions(ctx: Context, username: str, by: str | None) -> None:
    """End every open session of USERNAME (audited): their next request goes to the sign-in page."""
    try:
        count = sessions.end_sessions_of(ctx.pharmacy, by, username)
    except PharmacyError as error:
        _fail(error)
    click.echo(f"{count} session(s) of {accounts.normalise_username(username)} ended")


@main.group("stock")
def stock_group() -> None:
    """Receive and list stock."""


@stock_group.command("receive")
@click.argument("scan")
@click.option("--user", "username", required=True, help="Who receives the stock (a technician or pharmacist).")
@pass_ctx
def stock_receive(ctx: Context, scan: str, username: str) -> None:
    """Receive a pack or diluent bag from its scanned GS1 string (GS as ASCII 29 or a configured substitute)."""
    try:
        receipt = stock.receive(ctx.pharmacy, username, scan)
    except PharmacyError as error:
        _fail(error)
    click.echo(receipt.message)


def _table(rows: list[dict], columns: list[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c) if r.get(c) is not None else "")) for r in rows)) for c in columns}
    click.echo("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        click.echo("  ".join(str(row.get(c) if row.get(c) is not None else "").ljust(widths[c]) for c in columns))


FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)


@stock_group.command("list")
@FORMAT
@pass_ctx
def stock_list(ctx: Context, fmt: str) -> None:
    """List vials and diluent lots."""
    from pharmacy.services import stock_list

    with ctx.plain_reads() as connection:
        rows = stock_list.read(connection)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _table(rows, ["kind", "product", "gtin", "serial", "lot", "expiry", "state"])


@main.group("orders")
def orders_group() -> None:
    """Cancel an order entered by mistake, put one on hold or lift a hold (always with a reason)."""


_ORDER_ACTS = {  # command → (the service in services/orders, what the pharmacy is told)
    "cancel": ("cancel_order", "cancelled: it will not be prepared and no longer counts in the course rules"),
    "hold": ("hold_order", "is on hold: it is not prepared until a pharmacist lifts the hold and verifies it again"),
    "lift-hold": ("lift_hold", "is no longer on hold: it waits for a pharmacist's verification again"),
}


def _order_command(name: str) -> None:
    act, done = _ORDER_ACTS[name]

    @orders_group.command(name, help=f"{name.replace('-', ' ').capitalize()} an order, with the reason (audited).")
    @click.argument("order_id", type=int)
    @click.option("--user", "username", required=True, help="Who does it (a pharmacist; a technician may cancel "
                                                             "an order they entered, before verification).")
    @click.option("--reason", required=True, help="Why, in a few words (at least 10 characters).")
    @pass_ctx
    def command(ctx: Context, order_id: int, username: str, reason: str) -> None:
        try:
            order = getattr(orders, act)(ctx.pharmacy, username, order_id, reason)
        except PharmacyError as error:
            _fail(error)
        click.echo(f"Order {order.id} {done} (now {order.state.label}).")


for _name in _ORDER_ACTS:
    _order_command(_name)


@main.command("bags")
@click.option("--state", default=None, help="Only bags in this state (expired counts as a state).")
@FORMAT
@pass_ctx
def bags_cmd(ctx: Context, state: str | None, fmt: str) -> None:
    """List bags with their state, use-by and ingredients."""
    rows = bags.list_bags(ctx.pharmacy, state)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _table(rows, ["serial", "state", "use_by", "patient_id", "vial_lot", "vial_serial", "diluent_lot"])


@main.command("label")
@click.argument("serials", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the PDF (a PDF-download printer only).")
@click.option("--stock", "stock_name", default=None, help="Label stock (a file in labels/).")
@click.option("--user", "username", required=True, help="Who prints (a technician or pharmacist).")
@click.option("--printer", default=None, help="A printer from printers.toml (`pharmacy printers list`); "
                                              "default: the first one.")
@pass_ctx
def label_cmd(ctx: Context, serials, output: Path | None, stock_name, username: str, printer) -> None:
    """Print the labels of released bags (several serials: one label each). On a PDF-download printer the
    PDF is written to -o; on a printer each label is a print job, and one that fails is kept (`print-jobs`)."""
    from pharmacy.services import printjobs

    try:
        target = printjobs.printer_for(ctx.pharmacy, printer, stock_name)
        if target.downloads and output is None:
            raise click.UsageError(f"“{target.name}” is a PDF download: say where to write it (-o FILE).")
        if not target.downloads and output is not None:
            raise click.UsageError(f"“{target.name}” is a printer: the label goes there, not also to a file "
                                   "(a second copy would be a label without REPRINT).")
        printed = bags.print_labels(ctx.pharmacy, username, list(serials), stock_name, printer)
    except PharmacyError as error:
        _fail(error)
    if output is not None:
        output.write_bytes(printed.pdf)
    for serial, number in printed.prints:
        outcome = next((job for job in printed.jobs if job.bag_serial == serial), None)
        where = output if outcome is None else f"{printed.printer} (job {outcome.id}: {outcome.state})"
        click.echo(f"{serial}: print {number}{' (reprint)' if number > 1 else ''} → {where}")
    for serial, why in printed.refused:  # the rest of the batch printed; these bags did not
        click.echo(f"{serial}: NOT printed: {why}", err=True)
    for job in printed.failed:  # sent, but the printer did not take it: the job is kept
        click.echo(f"{job.bag_serial}: NOT printed on {job.printer}: {job.error}. The job is kept: "
                   f"pharmacy print-jobs retry {job.id} --user USER", err=True)
    if printed.refused or printed.failed:
        raise SystemExit(1)


@main.command("recall")
@click.argument("lot")
@click.option("--kind", type=click.Choice(RECALL_KINDS), default="vial", show_default=True)
@click.option("--serial", default=None, help="One vial serial of the lot only.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "pdf"]), default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--quarantine", "reason", default=None, help="Also quarantine every bag not yet given, with this reason.")
@click.option("--user", "username", default=None, help="Who runs the recall (a pharmacist, to quarantine).")
@pass_ctx
def recall_cmd(ctx: Context, lot: str, kind: str, serial, fmt: str, output, reason, username: str) -> None:
    """Every bag made from a lot: its patient, state, label prints and administration."""
    pharmacy = ctx.pharmacy
    try:
        if reason:
            if not username:
                raise click.UsageError("--quarantine needs --user (the pharmacist who confirms it).")
            done = trace.quarantine_lot(pharmacy, username, lot, kind, reason)
            click.echo(f"quarantined {len(done['bags'])} bag(s) and {done['stock']} stock item(s); "
                       f"{len(done['preparations'])} preparation(s) under way stopped. The lot stays recalled "
                       "(refused at every step) until a pharmacist lifts the recall.", err=True)
        rows = trace.recall(pharmacy, lot, kind, serial)
    except PharmacyError as error:
        _fail(error)
    zone = pharmacy.zone
    query = f"{kind} lot {lot}" + (f", vial serial {serial}" if serial else "")
    if fmt == "table":
        data = exports.to_csv(rows, trace.RECALL_COLUMNS, zone).decode("utf-8-sig")
        _table([dict(zip(trace.RECALL_COLUMNS, line, strict=False)) for line in list(csv.reader(io.StringIO(data)))[1:]],
               trace.RECALL_COLUMNS)
        return
    if fmt == "csv":
        payload = exports.to_csv(rows, trace.RECALL_COLUMNS, zone)
    elif fmt == "json":
        payload = exports.to_json(rows, zone).encode("utf-8")
    else:
        payload = exports.report_pdf(f"Recall: {query}", query, trace.RECALL_COLUMNS, rows,
                                     generated_by=username or "the pharmacy command line",
                                     generated_at=clock.now(), zone=zone)
    if output:
        output.write_bytes(payload)
        click.echo(f"{len(rows)} bag(s) written to {output}", err=True)
    elif fmt == "pdf":
        raise click.UsageError("A PDF needs -o FILE.")
    else:
        click.echo(payload.decode("utf-8-sig"), nl=False)


@main.group("temps")
def temps_group() -> None:
    """Temperature readings of storage locations."""


@temps_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "username", required=True, help="Who imports the readings.")
@pass_ctx
def temps_import(ctx: Context, file: Path, username: str) -> None:
    """Import readings from a CSV (location,time,celsius; time with its UTC offset). Bad rows are
    reported by line and left out; a reading already stored is not imported twice."""
    try:
        result = coldchain.import_csv(ctx.pharmacy, username, file.read_text(encoding="utf-8-sig"))
    except (PharmacyError, UnicodeDecodeError) as error:
        _fail(error if isinstance(error, PharmacyError) else PharmacyError(f"{file} is not UTF-8 text."))
    for line, message in result.errors:
        click.echo(f"line {line}: {message}", err=True)
    click.echo(f"{result.imported} reading(s) imported, {result.duplicates} already present, "
               f"{len(result.errors)} refused")
    for serial in result.quarantined:
        click.echo(f"QUARANTINED bag {serial}: a reading was outside its location's range")
    if result.errors:
        sys.exit(2)


@main.group("audit")
def audit_group() -> None:
    """The tamper-evident audit trail."""


@audit_group.command("verify")
@click.option("--full", "mode", flag_value="full", default=True,
              help="Walk the whole chain and every anchor (the default; schedule it nightly or weekly).")
@click.option("--since-checkpoint", "mode", flag_value="since-checkpoint",
              help="Start from the last verified checkpoint (fast: for a run every few minutes).")
@click.option("--strict", is_flag=True, help="Exit 1 on a warning too (an anchor gap, entries not anchored yet).")
@pass_ctx
def audit_verify(ctx: Context, mode: str, strict: bool) -> None:
    """Check the hash chain against the anchors outside the database and replay the state of bags,
    vials and administrations; exit 1 naming each thing that does not match (services/audit_check)."""
    report = audit_check.verify(ctx.pharmacy, full=mode == "full")
    result = report.chain
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if not result.ok:
        click.echo(f"AUDIT CHAIN BROKEN at entry {result.first_bad_id}: {result.problem} "
                   f"({result.checked} entries before it are intact)", err=True)
    for problem in report.problems:
        click.echo(problem, err=True)
    if not report.ok or (strict and report.warnings):
        sys.exit(1)
    since = f" since the checkpoint at entry {report.checkpoint_from}" if report.checkpoint_from is not None else ""
    click.echo(f"audit chain intact: {result.checked} entries checked{since} ({result.end} in all)")
    if report.latest_anchor:
        click.echo(f"anchors outside the database agree: {report.anchors_checked} signed line(s) checked, latest "
                   f"{report.latest_anchor} (key {report.key})")
    click.echo("state replayed: " + ", ".join(f"{n} {what}" for what, n in report.replayed.items())
               + " match the audit trail")
    if report.checkpoint_written is not None:
        click.echo(f"checkpoint written at entry {report.checkpoint_written}")


@audit_group.command("anchor")
@pass_ctx
def audit_anchor(ctx: Context) -> None:
    """Anchor the current head once, after a full walk verifies: for a database from before anchoring,
    or after the anchor file was lost and the chain was checked some other way."""
    try:
        seq = audit_check.adopt(ctx.pharmacy)
    except PharmacyError as error:
        _fail(error)
    click.echo(f"audit head anchored at entry {seq}")


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def backup_cmd(ctx: Context, file: Path) -> None:
    """A consistent copy of the live SQLite database (online backup; the app may keep running)."""
    try:
        pages = setup.backup(ctx.pharmacy, file)
    except PharmacyError as error:
        _fail(error)
    click.echo(f"backup written to {file} ({pages} pages)")


@main.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def restore_cmd(ctx: Context, file: Path) -> None:
    """Replace the database by a backup whose audit chain verifies (stop the app first)."""
    try:
        result = setup.restore(ctx.pharmacy, file)
    except PharmacyError as error:
        _fail(error)
    click.echo(f"restored from {file}; audit chain intact: {result.checked} entries checked")


@main.group("tokens")
def tokens_group() -> None:
    """API tokens for other systems and devices."""


def _expiry(text: str | None, zone) -> datetime | None:
    """``--expires``: a last day (YYYY-MM-DD, valid to its end in the pharmacy's zone) or a number of days (90d)."""
    if not text:
        return None
    text = text.strip()
    try:
        if text.endswith("d") and text[:-1].isdigit():
            return clock.now() + timedelta(days=int(text[:-1]))
        return datetime.combine(date.fromisoformat(text), time(23, 59, 59), zone)
    except ValueError:
        raise click.BadParameter(f"“{text}” is neither a date (2027-06-30) nor a number of days (90d).",
                                 param_hint="--expires") from None


@tokens_group.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for (device or system).")
@click.option("--expires", default=None, help=f"Last day (2027-06-30) or days (90d); default {accounts.TOKEN_LIFETIME.days} days.")
@click.option("--scope", "scopes", multiple=True,
              help="A permission the token may use (repeat, or separate by spaces), e.g. temps.record; "
                   "default: all of the user's role.")
@BY
@pass_ctx
def tokens_create(ctx: Context, username: str, name: str, expires: str | None, scopes: tuple[str, ...], by: str | None) -> None:
    """Create a token for USERNAME; it is shown once."""
    try:
        scope = " ".join(scopes)
        click.echo(tokens.create_token(ctx.pharmacy, username, name, by=by, expires_at=_expiry(expires, ctx.pharmacy.zone),
                                       scope=scope))
    except PharmacyError as error:
        _fail(error)


@tokens_group.command("list")
@click.argument("username", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_ctx
def tokens_list(ctx: Context, username: str | None, fmt: str) -> None:
    """List API tokens (all, or USERNAME's): number, name, scope, expiry, state. Never the token itself."""
    try:
        rows = tokens.list_tokens(ctx.pharmacy, username)
    except PharmacyError as error:
        _fail(error)
    shown = [{k: (v.isoformat(timespec="minutes") if isinstance(v, datetime) else v) for k, v in row.items()} for row in rows]
    if fmt == "json":
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
    else:
        _table(shown, ["id", "user", "name", "scope", "expires_at", "state", "created_by", "revoked_by"])


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@click.option("--reason", default="", help="Why (audited).")
@BY
@pass_ctx
def tokens_revoke(ctx: Context, token_id: int, reason: str, by: str | None) -> None:
    """Revoke token TOKEN_ID (its number in `pharmacy tokens list`) for good."""
    try:
        tokens.revoke_token(ctx.pharmacy, by, token_id, reason)
    except PharmacyError as error:
        _fail(error)
    click.echo(f"token {token_id} revoked")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--demo", "with_demo", is_flag=True, help="Seed the demo pharmacy first.")
@click.option("--threads", default=4, show_default=True, type=int, help="Worker threads per process.")
@click.option("--workers", default=1, show_default=True, type=int,
              help="Processes sharing the port (Unix; one per core suits PostgreSQL and busy SQLite pharmacies).")
@pass_ctx
def serve(ctx: Context, host: str, port: int, with_demo: bool, threads: int, workers: int) -> None:
    """Run the web app under waitress (a production WSGI server)."""
    from pharmacy.web import logs, server
    from pharmacy.web.app import create_app

    logs.configure()
    pharmacy = ctx.pharmacy
    setup.init_db(pharmacy)
    if with_demo:
        demo.seed(pharmacy)
        click.echo("demo users: " + ", ".join(f"{u}/{p}" for u, _n, _r, p in demo.USERS))
    settings = pharmacy.settings
    pharmacy.db.dispose()  # no connection may cross a fork
    _start_outbox(settings)  # the FHIR outbox's sender, a thread of this (the first) process only (issue 17)
    try:
        server.serve(lambda: create_app(pharmacy=base.build(settings)), host, port, threads, workers,
                     announce=lambda: click.echo(f"serving on http://{host}:{port}/ ({workers} process(es) × "
                                                 f"{threads} threads)"))
    except OSError as error:  # the port is taken (or not ours to take): one line, no traceback
        if error.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        reason = {errno.EADDRINUSE: "is in use (another server, or another `pharmacy serve`?)",
                  errno.EACCES: "may not be used by this user"}.get(error.errno, "is not an address of this machine")
        raise click.ClickException(f"port {port} on {host} {reason}: choose another with --port, "
                                   "e.g. `pharmacy serve --port 8080`") from None


@main.group("devices")
def devices_group() -> None:
    """Devices at the bench (balances)."""


@devices_group.command("balances")
@pass_ctx
def devices_balances(ctx: Context) -> None:
    """Every balance with its calibration and due date."""
    from pharmacy.services import balances

    _table([{"serial": c.serial_number, "model": c.model, "calibrated": c.calibrated_on.isoformat(),
             "due": c.calibration_due.isoformat(), "certificate": c.certificate, "recorded by": c.recorded_by}
            for c in balances.calibrations(ctx.pharmacy)],
           ["serial", "model", "calibrated", "due", "certificate", "recorded by"])


@devices_group.command("calibrate")
@click.argument("serial_number")
@click.option("--model", required=True, help="The balance's make and model.")
@click.option("--calibrated-on", required=True, type=click.DateTime(["%Y-%m-%d"]), help="YYYY-MM-DD")
@click.option("--due", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Next calibration, YYYY-MM-DD.")
@click.option("--certificate", required=True, help="The calibration certificate's number.")
@click.option("--user", "username", required=True, help="The pharmacist who records it.")
@pass_ctx
def devices_calibrate(ctx: Context, serial_number: str, model: str, calibrated_on, due, certificate: str,
                      username: str) -> None:
    """Record a balance's calibration (its readings count only until the due date)."""
    from pharmacy.services import balances

    try:
        record = balances.record_calibration(ctx.pharmacy, username, serial_number, model, calibrated_on.date(),
                                             due.date(), certificate)
    except PharmacyError as error:
        _fail(error)
    click.echo(f"balance {record.serial_number}: calibrated {record.calibrated_on}, due {record.calibration_due}")


@devices_group.command("simulate-balance")
@click.option("--port", default=4001, show_default=True, type=int, help="TCP port on 127.0.0.1.")
@click.option("--protocol", type=click.Choice(["mt-sics", "sbi"]), default="mt-sics", show_default=True)
@click.option("--serial-number", default="SIM0000001", show_default=True)
@click.option("--pan", default="6.5", show_default=True, help="Grams on the pan at the start (an empty syringe).")
@click.option("--fill", default="1.2", show_default=True,
              help="Grams added after every tare, as if the tared syringe were filled.")
def simulate_balance(port: int, protocol: str, serial_number: str, pan: str, fill: str) -> None:
    """Run a balance simulator on loopback for a demo (PHARMACY_BALANCE=<protocol>+tcp://127.0.0.1:PORT)."""
    import time
    from decimal import Decimal, InvalidOperation

    from pharmacy.devices.simulator import BalanceSimulator

    try:
        start, added = Decimal(pan), Decimal(fill)
    except InvalidOperation:
        raise click.BadParameter("--pan and --fill are masses in grams, e.g. 6.5") from None
    try:
        simulator = BalanceSimulator(protocol, serial_number, port, fill_after_tare=added)
    except OSError as error:
        raise click.ClickException(f"port {port} cannot be used ({error.strerror}): choose another with --port") from None
    simulator.place(start)
    with simulator:
        click.echo(f"balance simulator {serial_number} speaking {protocol} on {simulator.url} (Ctrl-C stops it)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass



# --- printers and print jobs (issue 15 point 5) ---
@main.group("printers")
def printers_group() -> None:
    """The label printers configured in <instance>/printers.toml."""


@printers_group.command("list")
@FORMAT
@pass_ctx
def printers_list(ctx: Context, fmt: str) -> None:
    """Every configured printer (the file is checked: a wrong one is refused with the field to fix)."""
    from pharmacy.services import printjobs

    try:
        rows = [{"name": p.name, "kind": p.kind, "address": p.address, "language": p.language, "dpi": p.dpi,
                 "stock": p.stock, "timeout": p.timeout} for p in printjobs.configured(ctx.pharmacy)]
    except PharmacyError as error:
        _fail(error)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _table(rows, ["name", "kind", "address", "language", "dpi", "stock"])


@main.group("print-jobs", invoke_without_command=True)
@click.option("--state", type=click.Choice([state.value for state in JobState]), default=None)
@FORMAT
@click.pass_context
def print_jobs_group(click_ctx: click.Context, state: str | None, fmt: str) -> None:
    """Print jobs, unfinished first (`print-jobs retry ID`, `print-jobs cancel ID`)."""
    if click_ctx.invoked_subcommand is not None:
        return
    from pharmacy.services import printjobs

    ctx = click_ctx.ensure_object(Context)
    rows = [{"id": r.id, "bag": r.bag_serial, "what": r.what, "number": r.number, "printer": r.printer,
             "state": r.state.value, "attempts": r.attempts, "error": r.error or "", "maybe_printed": r.maybe_printed,
             "cancel_reason": r.cancel_reason or "", "created_by": r.created_by, "created_at": r.created_at.isoformat()}
            for r in printjobs.jobs(ctx.pharmacy, state)]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _table(rows, ["id", "bag", "number", "printer", "state", "attempts", "error"])


@print_jobs_group.command("retry")
@click.argument("job_id", type=int)
@click.option("--user", "username", required=True, help="Who retries (a technician or pharmacist).")
@pass_ctx
def print_jobs_retry(ctx: Context, job_id: int, username: str) -> None:
    """Send a failed job again on its printer."""
    from pharmacy.services import printjobs

    try:
        outcome = printjobs.retry(ctx.pharmacy, username, job_id)
    except PharmacyError as error:
        _fail(error)
    if outcome.failed:
        click.echo(f"job {outcome.id}: NOT printed on {outcome.printer}: {outcome.error}", err=True)
        raise SystemExit(1)
    click.echo(f"job {outcome.id}: bag {outcome.bag_serial} print {outcome.number or '-'} sent to {outcome.printer}")


@print_jobs_group.command("cancel")
@click.argument("job_id", type=int)
@click.option("--user", "username", required=True, help="Who cancels (a technician or pharmacist).")
@click.option("--reason", required=True, help="Why (printed elsewhere, bag destroyed …).")
@pass_ctx
def print_jobs_cancel(ctx: Context, job_id: int, username: str, reason: str) -> None:
    """Give up a failed job, with a reason (kept and audited)."""
    from pharmacy.services import printjobs

    try:
        outcome = printjobs.cancel(ctx.pharmacy, username, job_id, reason)
    except PharmacyError as error:
        _fail(error)
    click.echo(f"job {outcome.id}: cancelled")


def _start_outbox(settings, interval: float = 5.0):
    """The outbox worker as a daemon thread, when a FHIR server is configured (PHARMACY_FHIR_OUTBOUND_URL)."""
    if not settings.fhir_outbound_url:
        return None
    from pharmacy.services import outbox

    worker = outbox.Worker(base.build(settings), interval=interval)
    worker.start()
    click.echo(f"FHIR outbox: sending to {settings.fhir_outbound_url} every {interval:g} s", err=True)
    return worker


@main.group("outbox")
def outbox_group() -> None:
    """The FHIR outbox: dispenses and administrations on their way to the hospital's record (issue 17)."""


@outbox_group.command("list")
@click.option("--all", "include_sent", is_flag=True, help="Also the rows already sent.")
@FORMAT
@pass_ctx
def outbox_list(ctx: Context, include_sent: bool, fmt: str) -> None:
    """What waits to be sent (failing: tried 3 times or more), with the last error; exit 1 when some fail."""
    from pharmacy.services import outbox

    rows = outbox.rows(ctx.pharmacy, include_sent)
    if not ctx.pharmacy.settings.fhir_outbound_url:
        click.echo("no FHIR server configured (PHARMACY_FHIR_OUTBOUND_URL): nothing is queued", err=True)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2, default=str))
    else:
        _table([{**r, "created_at": exports.cell(r["created_at"], ctx.pharmacy.zone),
                 "next_attempt_at": exports.cell(r["next_attempt_at"], ctx.pharmacy.zone) if r["next_attempt_at"] else "",
                 "sent_at": exports.cell(r["sent_at"], ctx.pharmacy.zone) if r["sent_at"] else ""} for r in rows],
               ["id", "event", "resource", "status", "state", "attempts", "created_at", "next_attempt_at", "sent_at",
                "last_error"])
    if any(r["state"] == "failing" for r in rows):
        raise SystemExit(1)


@outbox_group.command("run")
@click.option("--once", is_flag=True, help="Send what is due now (a few rounds) and stop.")
@click.option("--interval", default=5.0, show_default=True, type=click.FloatRange(0.1, 3600), help="Seconds between rounds.")
@pass_ctx
def outbox_run(ctx: Context, once: bool, interval: float) -> None:
    """Send the outbox to the FHIR server: as a separate process (Ctrl-C stops it), or --once."""
    from pharmacy.services import outbox

    pharmacy = ctx.pharmacy
    if not pharmacy.settings.fhir_outbound_url:
        raise click.ClickException("No FHIR server is configured: set PHARMACY_FHIR_OUTBOUND_URL (and "
                                   "PHARMACY_FHIR_OUTBOUND_TOKEN if it wants a bearer token).")
    if once:
        result = outbox.run_until_empty(pharmacy)
        click.echo(f"sent {result.sent}, failed {result.failed}, waiting {result.waiting}")
        raise SystemExit(1 if result.failed else 0)
    worker = outbox.Worker(pharmacy, interval=interval)
    click.echo(f"FHIR outbox: sending to {pharmacy.settings.fhir_outbound_url} every {interval:g} s (Ctrl-C stops)")
    try:
        worker.run()
    except KeyboardInterrupt:
        worker.stop.set()


@outbox_group.command("retry")
@click.argument("row_id", type=int, required=False)
@pass_ctx
def outbox_retry(ctx: Context, row_id: int | None) -> None:
    """Make waiting rows (or one) due now, e.g. after the FHIR server was mended; the worker sends them."""
    from pharmacy.services import outbox

    try:
        count = outbox.retry_now(ctx.pharmacy, row_id)
    except PharmacyError as error:
        _fail(error)
    click.echo(f"{count} row(s) due now")


if __name__ == "__main__":  # pragma: no cover
    main()
