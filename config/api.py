"""API plumbing shared by every app: pagination and errors."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import pagination, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from config.filters import MAX_ID


class CursorPagination(pagination.CursorPagination):
    """Keyset pagination on `id`: constant cost on any page, stable while rows are added.

    DRF decodes a cursor's position but leaves it to the database to read it, so a
    hand-made cursor (`p=abc`) would end as a 500 inside the query; it is refused here as
    a 400 naming the cursor."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise DRFValidationError({"cursor": [self.invalid_cursor_message]}) from None
        if cursor is not None and cursor.position is not None:
            try:
                position = int(cursor.position)
            except ValueError:
                position = None
            if position is None or not 0 <= position <= MAX_ID:
                raise DRFValidationError({"cursor": [self.invalid_cursor_message]})
        return cursor


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This object was changed by someone else; reload and try again."
    default_code = "conflict"


def exception_handler(exc, context):
    """DRF's handler, plus Django's ValidationError from services answered as a 400.

    Services validate with Django's ValidationError so HTML forms and the API share one
    rule; here it becomes `{"field": ["message"]}` like any serializer error.
    """
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = DRFValidationError(detail)
    return drf_exception_handler(exc, context)
