"""Verbs: what an actor did (follow, comment, love, add), each with a small numeric id.

A verb is a class with an ``id`` below 1000, an ``infinitive`` and a ``past_tense``. Its id
is part of every activity's :attr:`~streams.feeds.Activity.serialization_id`, so ids must be
stable: :func:`register` refuses a second class for an id already taken.

Examples
--------
>>> from streams.feeds.verbs import Verb, register, get_verb_by_id
>>> class Share(Verb):
...     id = 42
...     infinitive = "share"
...     past_tense = "shared"
>>> register(Share) is Share
True
>>> get_verb_by_id(42).past_tense
'shared'
>>> get_verb_by_id(3).infinitive
'love'
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["Add", "Comment", "Follow", "Love", "Verb", "get_verb_by_id", "register"]


class Verb:
    """The base of verbs: subclass it, set ``id``, ``infinitive`` and ``past_tense``.

    Verbs are used as classes (``Activity(1, Love, 2)``), never instantiated.

    Examples
    --------
    >>> from streams.feeds.verbs import Love
    >>> Love.id, Love.infinitive, Love.past_tense
    (3, 'love', 'loved')
    """

    id: ClassVar[int] = 0
    infinitive: ClassVar[str] = "verb"
    past_tense: ClassVar[str] = "verbed"


_REGISTRY: dict[int, type[Verb]] = {}


def register(verb: type[Verb]) -> type[Verb]:
    """Make ``verb`` known by its id (usable as a class decorator).

    Parameters
    ----------
    verb : type of Verb
        The verb class; its ``id`` must be an int in ``[0, 1000)``.

    Returns
    -------
    type of Verb
        ``verb`` itself.

    Raises
    ------
    ValueError
        If the id is out of range or another class already holds it.
    """
    if not isinstance(verb.id, int) or not 0 <= verb.id < 1000:
        raise ValueError(f"verb {verb.__name__}: id must be an int in [0, 1000), got {verb.id!r}")
    known = _REGISTRY.get(verb.id)
    if known is not None and known is not verb:
        raise ValueError(
            f"verb id {verb.id} is taken by {known.__name__}; cannot register {verb.__name__}"
        )
    _REGISTRY[verb.id] = verb
    return verb


def get_verb_by_id(verb_id: int) -> type[Verb]:
    """Return the registered verb class with id ``verb_id``.

    Raises
    ------
    KeyError
        If no verb has that id.
    """
    try:
        return _REGISTRY[int(verb_id)]
    except KeyError:
        raise KeyError(f"no verb is registered with id {verb_id!r}") from None


@register
class Follow(Verb):
    """Someone followed someone (id 1)."""

    id = 1
    infinitive = "follow"
    past_tense = "followed"


@register
class Comment(Verb):
    """Someone commented on something (id 2)."""

    id = 2
    infinitive = "comment"
    past_tense = "commented"


@register
class Love(Verb):
    """Someone loved something (id 3)."""

    id = 3
    infinitive = "love"
    past_tense = "loved"


@register
class Add(Verb):
    """Someone added something (id 4)."""

    id = 4
    infinitive = "add"
    past_tense = "added"
