"""The engine's callback base: the events are declared once, here.

A callback subclasses :class:`Callback` and overrides any of the events; a method named ``on_*``
that is not an event is a ``TypeError`` when the class is defined (a misspelt hook would otherwise
never be called), and :func:`tinyseg.engine.fit` accepts only :class:`Callback` instances.
"""

from __future__ import annotations

EVENTS = ("on_fit_start", "on_epoch_start", "on_epoch_record", "on_epoch_end", "on_fit_end")


class Callback:
    """Hooks into :func:`tinyseg.engine.fit`; ``state`` is the engine's ``FitState``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        unknown = [name for name in vars(cls) if name.startswith("on_") and name not in EVENTS]
        if unknown:
            raise TypeError(
                f"{cls.__name__}: {', '.join(unknown)} is not a callback event; the events are {', '.join(EVENTS)}"
            )

    def on_fit_start(self, state) -> None:
        """Before the first epoch (after a resume: before the next one)."""

    def on_epoch_start(self, state) -> None:
        """``state.epoch`` is the epoch about to train."""

    def on_epoch_record(self, state, record: dict) -> None:
        """The epoch's record before it is logged: add fields to it here."""

    def on_epoch_end(self, state, record: dict) -> None:
        """After the epoch is logged and checkpointed."""

    def on_fit_end(self, state) -> None:
        """After training; the model holds the best epoch's weights."""


def check_callbacks(callbacks) -> list[Callback]:
    callbacks = list(callbacks)
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(
                f"{type(cb).__name__} is not a tinyseg.callbacks.Callback: subclass it so that its events are checked"
            )
    return callbacks
