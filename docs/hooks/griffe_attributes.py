"""Griffe extension: leave out instance attributes that have no docstring.

``self.channel_index = channel_index`` in a constructor makes ``channel_index`` an instance
attribute; without a docstring its page entry would only repeat that line. The constructor's
signature (with the class docstring's ``Args:``) documents it already. Documented instance
attributes, class attributes and properties stay.
"""

from __future__ import annotations

import griffe


class UndocumentedInstanceAttributes(griffe.Extension):
    """Drop ``instance-attribute`` members without a docstring from every class."""

    def on_class_members(self, *, cls: griffe.Class, **kwargs: object) -> None:
        for name, member in list(cls.members.items()):
            if (
                not member.is_alias
                and member.is_attribute
                and "instance-attribute" in member.labels
                and member.docstring is None
            ):
                del cls.members[name]
