"""A request body as a result record's JSON: strict, bounded, and linear in the body's size."""
import json

from fastapi import HTTPException

# A result record nests under 10 deep and its longest number is a 13-digit byte count; these bounds
# leave room for later versions and stop what would break the validator or int().
MAX_DEPTH = 32
MAX_NUMBER_DIGITS = 40


class _UnreadableBody(ValueError):
    pass


def _no_duplicate_keys(pairs):
    result = dict(pairs)
    if len(result) != len(pairs):
        # Parsers disagree on which one wins; the stored record must mean the same to every reader.
        seen = set()
        duplicate = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise _UnreadableBody(f"the key {duplicate!r} appears twice in one object")
    return result


def _reject_constant(name):
    raise _UnreadableBody(f"{name} is not a JSON number")


def _bounded_int(text):
    # Python refuses to convert more than 4,300 digits (a ValueError the handler would turn into a 500);
    # no number of a result record comes near MAX_NUMBER_DIGITS.
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise _UnreadableBody(f"an integer of {len(text.lstrip('-'))} digits; a result record's numbers have at "
                              f"most {MAX_NUMBER_DIGITS}")
    return int(text)


def _bounded_float(text):
    if len(text) > MAX_NUMBER_DIGITS * 2:
        raise _UnreadableBody(f"a number written with {len(text)} characters; a result record's numbers have at "
                              f"most {MAX_NUMBER_DIGITS} digits")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _UnreadableBody(f"{text[:20]} is beyond what a double holds")
    return value


def _depth(value):
    """How deeply arrays and objects nest in `value` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def parse_body(body):
    """(record, text) from a request body: strict UTF-8 JSON, no NaN/Infinity, no repeated keys, numbers
    and nesting within what a result record needs (the validator recurses, and Python's int() has a digit
    limit: either would otherwise end in a 500). Linear in the body's size; run it off the event loop."""
    try:
        text = body.decode("utf-8")
        record = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant,
                            parse_int=_bounded_int, parse_float=_bounded_float)
        if _depth(record) > MAX_DEPTH:
            raise _UnreadableBody(f"arrays and objects nest more than {MAX_DEPTH} deep; a result record nests "
                                  "far less")
        return record, text
    except UnicodeDecodeError as error:
        message = f"the body is not UTF-8 text ({error.reason} at byte {error.start})"
    except json.JSONDecodeError as error:
        message = f"the body is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
    except _UnreadableBody as error:
        message = f"the body is not a result record's JSON: {error}"
    except RecursionError:
        message = f"arrays and objects nest more than {MAX_DEPTH} deep; a result record nests far less"
    raise HTTPException(422, [{"loc": ["body"], "msg": message, "type": "json_invalid"}])
