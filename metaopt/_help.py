"""The help formatter of metaopt's command line and of its experiment scripts."""

from __future__ import annotations

import argparse


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows each flag's default once, after its help; descriptions and epilogs kept as written.

    No default is added where it says nothing (``None``, an empty list, an on/off switch: the
    help says what happens) or where the help already states it (``"(default ..."``).
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        if (
            default is None
            or default == []
            or action.nargs == 0
            or "(default" in (action.help or "")
        ):
            return action.help
        return super()._get_help_string(action)
