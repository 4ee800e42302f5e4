"""Base API view and request helpers shared by every app's API."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any, cast

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from django.utils.cache import patch_vary_headers
from rest_framework import serializers
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.utils.serializer_helpers import BindingDict
from rest_framework.views import APIView

from billing_project.core import ratelimit
from billing_project.core.api import permissions, throttling
from billing_project.core.api.exceptions import error_body, flatten_codes
from billing_project.core.api.parsers import ExactJSONParser, parse_json_bytes
from billing_project.core.api.unsupported import LagoOnly, refuse_unsupported
from billing_project.core.errors import BadRequestFailure, ValidationFailure
from billing_project.core.logging import bind_context


class OrganizationAPIView(APIView):
    """An API view bound to the organization of the calling API key.

    Set `resource_name` to the Lago resource the view serves (`"plan"`, `"invoice"`, ... one of
    `billing_project.core.api.permissions.RESOURCES`): scoped API keys are checked against it
    (403 `<mode>_action_not_allowed_for_<resource_name>`). Left unset, it is derived from the class
    name, and an unknown derived name is refused for every scoped key.
    """

    parser_classes = [ExactJSONParser]
    resource_name: str | None = None

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        organization_id = getattr(request.auth, "organization_id", None)
        if organization_id is not None:
            # Stays bound for the rest of the request (cleared on `request_finished`).
            bind_context(organization_id=str(organization_id))

    @property
    def organization(self) -> Any:
        return self.request.auth.organization

    # The permission classes `answer_get_directly` applies itself, in DRF's order.
    _DIRECT_PERMISSIONS = (permissions.HasApiKey, throttling.ApiKeyRateLimit, permissions.ApiKeyScope)

    def answer_get_directly(self, request: HttpRequest, read: Callable[[Any], Any]) -> HttpResponse | None:
        """The response DRF's `dispatch` gives a plain authenticated GET whose body is `read(api_key)`,
        produced without DRF's request wrapper, negotiation and response rendering: for the reads
        an application makes on every request of its own (the entitlement check). The same bytes
        and headers (`tests/entitlements/test_direct_reads.py` compares them).

        None, with nothing done that DRF would do again, whenever DRF must answer: an `Accept` other
        than none, `*/*` or the JSON media type; `?format=`; no key, or one that does not
        authenticate (401); an exhausted rate limit (429: the hit is left on the request, and
        `ApiKeyRateLimit` answers from it instead of counting the request twice); a scoped key
        without read access to `resource_name` (403); any error raised by `read` (a 404: DRF runs
        the read again and answers it); a view whose authentication, permission, throttle or
        versioning classes are not the API's defaults."""
        api_key = self._direct_key(request, "read")
        if api_key is None:
            return None
        try:
            data = read(api_key)
        except Exception:  # noqa: BLE001 - DRF runs the read again and answers it (404, 500)
            return None
        return self._direct_response(data, 200, {})

    def answer_write_directly(
        self, request: HttpRequest, root_key: str, write: Callable[[dict[str, Any]], tuple[Any, dict[str, str]]]
    ) -> HttpResponse | None:
        """The response DRF's `dispatch` gives an authenticated write whose JSON body holds an object
        under `root_key`, produced without DRF's request wrapper, negotiation, parser choice and
        response rendering (the single event, `POST /events`, sent hundreds of times a second).
        `write(payload)` returns (the response's data, headers to add); it runs with `self.request`
        the Django request, authenticated (`request.auth`), as `self.organization` reads it. The
        same bytes and headers as DRF's (`tests/metering/test_direct_event.py` compares them).

        None, with nothing done that DRF would do again, whenever DRF must answer: what
        `answer_get_directly` hands over (Accept, `?format=`, 401, 429, 403 for `write`), a body
        that is not exactly `application/json` or that DRF's parser or `root_payload` would refuse
        (parsed here before the key is looked at, so DRF's order, 401 before 400, is kept). Once
        `write` runs, its errors are answered here as DRF's exception handler answers them
        (`billing_project.core.api.exceptions.error_body`), and what that handler does not know
        (a 500) is raised to Django, as DRF raises it."""
        if request.META.get("CONTENT_TYPE") != self.parser_classes[0].media_type:
            return None
        try:
            raw = request.body  # read already by the API log's middleware, usually
            data = parse_json_bytes(raw, "utf-8") if raw else None
            payload = root_object(data, root_key)
        except (APIException, BadRequestFailure, ValidationFailure, RawPostDataException, RequestDataTooBig):
            return None  # DRF authenticates first, then answers the same error (or the 401)
        api_key = self._direct_key(request, "write")
        if api_key is None:
            return None
        self.request = request  # type: ignore[assignment]  # `self.organization` reads its `auth`
        try:
            data, headers = write(payload)
        except Exception as exc:  # noqa: BLE001 - answered as DRF's exception handler answers it
            status, body, headers = error_body(exc)  # raises what it does not answer (a 500)
            headers.update(getattr(exc, "response_headers", None) or {})
            return self._direct_response(body, status, headers)
        return self._direct_response(data, 200, headers)

    def _direct_key(self, request: HttpRequest, mode: str) -> Any:
        """The authenticated API key of a request the view may answer without DRF (DRF's
        authentication, the per-key rate limit and the scope check for `mode`, in DRF's order), or
        None when DRF must answer (`answer_get_directly`)."""
        if not self._answers_directly():
            return None
        renderer = self.renderer_classes[0]
        meta = request.META
        accept = meta.get("HTTP_ACCEPT", "")
        if accept not in ("", "*/*", renderer.media_type) or (
            meta.get("QUERY_STRING") and api_settings.URL_FORMAT_OVERRIDE in request.GET
        ):
            return None
        authenticated = None
        try:
            for authenticator in self.get_authenticators():
                # The API's authentication reads only the headers (`request.META`), which the
                # Django request has as DRF's does.
                authenticated = authenticator.authenticate(cast(Request, request))
                if authenticated is not None:
                    break
        except APIException:
            return None
        if authenticated is None:
            return None
        user, api_key = authenticated
        limit = throttling.limit_per_minute()
        if limit > 0:
            request.user, request.auth = user, api_key  # type: ignore[attr-defined]  # `also_rate_counter` reads them
            self.request = request  # type: ignore[assignment]
            counter = getattr(self, "also_rate_counter", None)
            also = counter(request) if counter is not None else None
            result = ratelimit.hit(f"api:key:{api_key.pk}", limit, throttling.WINDOW_SECONDS, also=also)
            request.bxb_ratelimit = result  # type: ignore[attr-defined]
            if not result.allowed:
                return None
        resource = permissions.resource_name_of(self)
        if not permissions.permits(getattr(api_key, "permissions", None), resource, mode):
            return None
        request.user, request.auth = user, api_key  # type: ignore[attr-defined]  # as DRF's Request sets them
        organization_id = getattr(api_key, "organization_id", None)
        if organization_id is not None:
            bind_context(organization_id=str(organization_id))
        return api_key

    def _direct_response(self, data: Any, status: int, headers: dict[str, str]) -> HttpResponse:
        """`data` rendered as DRF's `Response` would be, with the view's default headers."""
        renderer = self.renderer_classes[0]
        response = HttpResponse(
            renderer().render(data, renderer.media_type, {}), content_type=renderer.media_type, status=status
        )
        for key, value in headers.items():
            response[key] = value
        vary, defaults = _default_headers(type(self))
        if vary is not None:
            patch_vary_headers(response, [vary])
        for key, value in defaults:
            response[key] = value
        return response

    @classmethod
    def _answers_directly(cls) -> bool:
        return (
            tuple(cls.permission_classes) == cls._DIRECT_PERMISSIONS
            and not cls.throttle_classes
            and cls.versioning_class is None
            and len(cls.authentication_classes) == 1
            and tuple(cls.authentication_classes) == tuple(api_settings.DEFAULT_AUTHENTICATION_CLASSES)
            and cls.default_response_headers is APIView.default_response_headers
        )

    @property
    def api_key(self) -> Any:
        return self.request.auth


# View class -> its default headers (`_default_headers`); at most `_DEFAULT_HEADERS_MAX` kept.
_DEFAULT_HEADERS: dict[type, tuple[str | None, tuple[tuple[str, str], ...]]] = {}
_DEFAULT_HEADERS_MAX = 256


def _default_headers(view_class: type) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """DRF's `default_response_headers` of a view answering directly (its `Vary`, then the others in
    order), made once per view class: they follow from the class alone (its renderers and the
    methods it defines; `_answers_directly` refuses a class that redefines them), where DRF's
    property lists the methods again for every response (~12,000 instructions). Bounded by the
    number of view classes (`_DEFAULT_HEADERS_MAX` kept); holds no data."""
    known = _DEFAULT_HEADERS.get(view_class)
    if known is None:
        view = view_class()
        view.setup(HttpRequest())  # as `as_view` sets a view up: `head` answered by `get`
        defaults = view.default_response_headers
        vary = defaults.pop("Vary", None)
        known = (vary, tuple(defaults.items()))
        if len(_DEFAULT_HEADERS) < _DEFAULT_HEADERS_MAX:
            _DEFAULT_HEADERS[view_class] = known
    return known


def root_payload(request: Request, key: str, *, lago_only: Iterable[LagoOnly] = ()) -> dict[str, Any]:
    """The object under Lago's root key; 400 when it is missing, as Lago does.

    `lago_only`: the Lago fields of this object bxb does not implement, refused (422
    `value_is_not_supported`) when the payload uses them (`billing_project.core.api.unsupported`).
    """
    return root_object(request.data, key, lago_only=lago_only)


def root_object(data: Any, key: str, *, lago_only: Iterable[LagoOnly] = ()) -> dict[str, Any]:
    """`root_payload` of a parsed body."""
    if not isinstance(data, dict) or key not in data or data[key] in (None, "", {}, []):
        raise BadRequestFailure(f"param is missing or the value is empty or invalid: {key}")
    payload = data[key]
    if not isinstance(payload, dict):
        raise BadRequestFailure(f"param is missing or the value is empty or invalid: {key}")
    refuse_unsupported(payload, lago_only)
    return payload


def refuse_unsupported_body(request: Request, lago_only: Iterable[LagoOnly]) -> None:
    """`refuse_unsupported` on the whole body: fields beside the root key (`authorization`), and the
    bodies of routes that have no root object (`void`, `retry_payment`, a `DELETE` with options)."""
    data = request.data
    if isinstance(data, dict):
        refuse_unsupported(data, lago_only)


def metadata_body(request: Request, *, empty_keys: bool = True) -> dict[str, str | None]:
    """The body's `metadata` on Lago's metadata routes: an object of string keys (not empty unless
    `empty_keys`) to text or null; 400 when it is missing, 422 `value_is_invalid` otherwise."""
    data = request.data
    if not isinstance(data, dict) or "metadata" not in data:
        raise BadRequestFailure("param is missing or the value is empty or invalid: metadata")
    metadata = data["metadata"]
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and (k or empty_keys) and (v is None or isinstance(v, str)) for k, v in metadata.items()
    ):
        raise ValidationFailure.single("metadata", "value_is_invalid")
    return dict(metadata)


def validate_input(serializer_class: type[serializers.Serializer], data: Any, *, partial: bool = False) -> dict:
    """Run an input serializer; its errors become a ValidationFailure in Lago's shape."""
    pooled = _pooled_class(serializer_class)
    serializer = pooled(data=data, partial=partial)
    fields = serializer.borrow_fields() if isinstance(serializer, _PooledFields) else None
    try:
        valid = serializer.is_valid()
    finally:
        if fields is not None:
            _FIELD_POOLS[serializer_class].append(fields)
    if not valid:
        raise ValidationFailure(flatten_codes(ValidationError(serializer.errors).get_codes()))
    return dict(serializer.validated_data)


# DRF deep-copies a serializer's declared fields for every instance (`Serializer.get_fields`): for
# the customer input, with its nested address, billing configuration and metadata, that copy was
# most of the validation's CPU (~0.5 ms a request). Validation keeps no state in the fields, so a
# request borrows fields built and bound for an earlier request of the same class, re-parents them
# to its serializer, and gives them back afterwards. A set of fields serves one request at a time
# (`list.pop`/`append` are atomic), and nested fields find the new serializer (its `partial`, its
# context) through their parents. Classes that build their fields themselves (`get_fields`
# overridden, or fields touched in `__init__`) are left alone. A pooled class is the input class
# with `_PooledFields` first in its bases: its `fields` are the borrowed set when it has one.
_FIELD_POOLS: defaultdict[type, list[BindingDict]] = defaultdict(list)
_POOLED_CLASSES: dict[type, type[serializers.Serializer]] = {}


class _PooledFields(serializers.Serializer):
    _input_class: type[serializers.Serializer]  # the class the pool is kept for
    _borrowed: BindingDict | None = None

    @cached_property
    def fields(self) -> BindingDict:  # type: ignore[override]  # DRF's is a cached_property too
        return self._borrowed if self._borrowed is not None else super().fields

    def borrow_fields(self) -> BindingDict | None:
        """Take a set of fields from the pool (or let DRF build one) for this validation; None when
        `__init__` already built this serializer's own fields (they stay its own)."""
        if "fields" in self.__dict__:
            return None
        pool = _FIELD_POOLS[self._input_class]
        try:
            fields = pool.pop()
        except IndexError:
            return self.fields  # built and bound by DRF this once
        fields.serializer = self
        for field in fields.values():
            field.parent = self  # what `Field.bind` sets; name, label and source stay as bound
        self._borrowed = fields
        return fields


def _pooled_class(serializer_class: type[serializers.Serializer]) -> type[serializers.Serializer]:
    if serializer_class.get_fields is not serializers.Serializer.get_fields:
        return serializer_class
    pooled = _POOLED_CLASSES.get(serializer_class)
    if pooled is None:
        metaclass: Any = type(serializer_class)  # DRF's SerializerMetaclass: it collects the declared fields
        pooled = _POOLED_CLASSES[serializer_class] = metaclass(
            serializer_class.__name__,
            (_PooledFields, serializer_class),
            {"__module__": serializer_class.__module__, "_input_class": serializer_class},
        )
    return pooled
