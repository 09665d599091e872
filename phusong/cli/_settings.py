"""``phusong settings``: every key of ``--set`` and the scenario tables, with type, default,
unit — or, given ``--scenario``/``--set``, the values a run would use and where each came from.
"""

from __future__ import annotations

import click

from phusong.cli._common import command_errors, emit, json_option, run_settings, settings_options

__all__ = ["COMMANDS", "settings_cmd"]


@click.command("settings")
@click.option("--markdown", is_flag=True, help="Print the key table as Markdown (README's).")
@settings_options
@json_option
@command_errors
def settings_cmd(markdown: bool, scenario_path, sets, as_json: bool) -> None:
    """Settings keys (type, default, unit) and the values a run uses: defaults, then
    --scenario, then --set (e.g. phusong settings --set thresholds_dbm.4G=-105)."""
    from phusong.config import key_table, key_table_markdown

    if markdown:
        click.echo(key_table_markdown(), nl=False)
        return
    config = run_settings(scenario_path, sets)
    rec = config.record()
    units = {k.key: k for k in key_table()}
    rows = [{"key": k, "type": type(v).__name__, "value": v,
             "default": units[k].default if k in units else None,
             "unit": units[k].unit if k in units else "%", "from": rec["from"][k]}
            for k, v in rec["values"].items()]
    width = max(len(r["key"]) for r in rows)
    lines = [f"{'key':<{width}}  {'type':<5}  {'value':>16}  {'unit':<13}  from",
             *(f"{r['key']:<{width}}  {r['type']:<5}  {_shown(r['value']):>16}  "
               f"{r['unit']:<13}  {r['from']}" for r in rows)]
    emit({"settings": rows}, as_json=as_json, lines=lines)


def _shown(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:,.6g}"
    return str(v)


COMMANDS: list = [settings_cmd]
