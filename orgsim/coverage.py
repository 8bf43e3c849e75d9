"""The coverage room: which operations of botocore's Organizations model orgsim answers.

Generated from the handler registry against the model, so the table in orgsim/README.md cannot
drift from the code (a test compares them): ``python -m orgsim coverage`` prints it and
``python -m orgsim coverage --write`` puts it into the README between its markers.
"""

from __future__ import annotations

from pathlib import Path

from orgsim.model import operation_names, service_model
from orgsim.registry import load_handlers

README = Path(__file__).with_name("README.md")
START, END = "<!-- coverage:start -->", "<!-- coverage:end -->"


def table() -> str:
    handlers = load_handlers()
    names = sorted(operation_names())
    done = [name for name in names if name in handlers]
    version = service_model().api_version
    lines = [
        f"{len(done)} of the {len(names)} operations of the Organizations model ({version}, this botocore's) "
        "have a handler; any other answers 501 `OrgsimNotImplementedException` naming orgsim and the operation.",
        "",
        "| operation | orgsim | handler |",
        "| --- | --- | --- |",
    ]
    for name in names:
        handler = handlers.get(name)
        if handler is None:
            lines.append(f"| {name} | not implemented | |")
        else:
            module = handler.__module__.removeprefix("orgsim.").replace(".", "/")
            lines.append(f"| {name} | implemented | `{module}.py` `{handler.__name__}` |")
    return "\n".join(lines)


def readme_table(text: str) -> str:
    """The table between the README's markers, as written."""
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def write(path: Path = README) -> None:
    text = path.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    path.write_text(f"{head}{START}\n{table()}\n{END}{tail}")
