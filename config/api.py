"""API plumbing shared by every app: pagination and errors."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import pagination, status
from rest_framework.exceptions import APIException
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.views import exception_handler as drf_exception_handler


class CursorPagination(pagination.CursorPagination):
    """Keyset pagination: constant cost on any page, stable while rows are added."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 200


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
