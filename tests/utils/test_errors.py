"""jpegnn.errors helpers: the shared positive-integer argument check and the one-line message of a
DataLoader worker's error."""

from __future__ import annotations

import pytest

from jpegnn.errors import ConfigError, DataError, check_positive_int, user_message


@pytest.mark.parametrize("value", [0, -3, 2.0, True, "4", None])
def test_positive_int_refuses_with_owner_and_argument(value):
    with pytest.raises(ConfigError, match=r"^ImageDataModule: argument 'patch_size' must be a positive integer, got "):
        check_positive_int("ImageDataModule", "patch_size", value)


def test_positive_int_allows_none_only_when_asked():
    check_positive_int("X", "a", 5)
    check_positive_int("X", "a", None, allow_none=True)
    with pytest.raises(ConfigError, match=r"argument 'a' must be a positive integer or None, got True"):
        check_positive_int("X", "a", True, allow_none=True)


def test_user_message_of_a_worker_error_is_the_workers_line():
    wrapped = DataError("Caught DataError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
                        '  File "x.py", line 1\njpegnn.errors.DataError: cannot read image a.png: truncated')
    assert user_message(wrapped) == "cannot read image a.png: truncated"
    assert user_message(DataError("plain")) == "plain"
