"""The one `posevideo` command line. Options are typed and validated here, at the edge; the work is
done by functions in the package, imported inside each command so that `--help` stays fast."""
from __future__ import annotations

import sys

import click

from posevideo.errors import InputError


class _Group(click.Group):
    """Turns an `InputError` anywhere below into one line on stderr and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InputError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="posevideo")
def cli():
    """Video of a specific person from speech or from poses."""


# --- foundation: synthetic speaker and demo -----------------------------------------------------

# --- data: prepare and index ---------------------------------------------------------------------

# --- train and evaluate (renderer, gestures) -----------------------------------------------------

@cli.group(cls=_Group)
def train():
    """Train a model (one per person)."""


@cli.group(cls=_Group)
def evaluate():
    """Evaluate a trained model on a dataset split."""


# --- renderer: presets, render, export ------------------------------------------------------------

# --- gestures: speech to pose ----------------------------------------------------------------------

# --- end to end: speak, transfer, serve ------------------------------------------------------------


def main():
    cli(prog_name="posevideo")


if __name__ == "__main__":
    main()
