from django.contrib.messages import get_messages


def messages_of(response) -> list[str]:
    """The flash messages a response set, as text."""
    return [str(m) for m in get_messages(response.wsgi_request)]
