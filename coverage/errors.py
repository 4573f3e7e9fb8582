"""One error type for bad input: it always names the file, the field or key, and the fix."""

from __future__ import annotations


class InputError(Exception):
    """Bad input that a planner can fix. Printed without a traceback by the command line."""

    def __init__(self, problem: str, *, file: str | None = None, field: str | None = None,
                 fix: str | None = None):
        self.problem = problem
        self.file = None if file is None else str(file)
        self.field = field
        self.fix = fix
        super().__init__(self.message)

    @property
    def message(self) -> str:
        parts = []
        if self.file:
            parts.append(f"file: {self.file}")
        if self.field:
            parts.append(f"field: {self.field}")
        where = f" [{'; '.join(parts)}]" if parts else ""
        fix = f"\n  fix: {self.fix}" if self.fix else ""
        return f"{self.problem}{where}{fix}"
