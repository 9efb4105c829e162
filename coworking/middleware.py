import logging
import time
import uuid

logger = logging.getLogger("coworking.request")


class RequestLogMiddleware:
    """Logs one structured line per request and tags the response with a request id.

    An incoming X-Request-ID (set by the reverse proxy) is kept so that proxy and app lines correlate.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
        request.request_id = request_id
        response = self.get_response(request)
        # Only a user the request already loaded: reading request.user here would load the session and
        # the user on every signed-in request, even for views that never look at them.
        user = getattr(request, "_cached_user", None)
        logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "user_id": user.pk if user is not None and user.is_authenticated else None,
            },
        )
        response["X-Request-ID"] = request_id
        return response
