"""One way for every CSV reader to refuse a file the csv module cannot read (e.g. a field over its size limit)."""
from __future__ import annotations

import csv
import functools
from typing import Any, Callable


def refuse_unreadable(make_error: Callable[..., Exception]) -> Callable:
    """Turn ``csv.Error`` into the reader's own error: ``make_error(message, *the reader's arguments)``.

    >>> @refuse_unreadable(lambda message, text: ValueError(message))
    ... def rows(text):
    ...     return list(csv.reader([text]))
    >>> rows("x" * 200_000)
    Traceback (most recent call last):
    ...
    ValueError: not a readable CSV (field larger than field limit (131072))
    """
    def wrap(reader: Callable) -> Callable:
        @functools.wraps(reader)
        def read(*args: Any, **kwargs: Any) -> Any:
            try:
                return reader(*args, **kwargs)
            except csv.Error as error:
                raise make_error(f"not a readable CSV ({error})", *args, **kwargs) from None
        return read
    return wrap
