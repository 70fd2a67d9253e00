"""Declarative base with a naming convention so Alembic names constraints predictably."""

from __future__ import annotations

import uuid
from dataclasses import field, make_dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONB, list[Any]: JSONB}


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class CreatedAtMixin:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


def plain_record(model: type[Base], *, frozen: bool = False) -> type[Any]:
    """A dataclass ``{Model}Record`` with a slot per column of ``model``'s table (attribute
    names and order as on the model, every one defaulting to None), for the request path: an ORM
    instance costs ~55-70 µs to build and as much again to read back, a plain one a few.
    Made from the table, so a new column is carried too."""
    record = make_dataclass(
        f"{model.__name__}Record",
        [(c.key, Any, field(default=None)) for c in model.__table__.columns],
        frozen=frozen,
        slots=True,
    )
    record.__module__ = model.__module__
    return record
