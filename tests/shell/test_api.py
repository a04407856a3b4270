import re

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def test_token_is_issued_for_a_correct_password(api, agent):
    response = api.post(
        "/api/v1/auth/token/",
        {"username": "agent", "password": factories.PASSWORD},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=agent).key}


def test_token_request_with_a_wrong_password_names_the_reason(api, agent):
    response = api.post(
        "/api/v1/auth/token/", {"username": "agent", "password": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_token_request_without_a_password_names_the_field(api, agent):
    response = api.post("/api/v1/auth/token/", {"username": "agent"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"password": ["This field is required."]}


def test_queues_answer_token_clients_with_their_own_queues(api, agent, outsider, queue):
    token = Token.objects.create(user=agent)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = api.get("/api/v1/queues/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert body["results"] == [
        {
            "id": queue.pk,
            "name": "Service desk",
            "slug": "service-desk",
            "key": "SD",
            "is_public": False,
        }
    ]


def test_queues_refuse_anonymous_callers(api, queue):
    response = api.get("/api/v1/queues/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "detail" in response.json()


def test_queues_refuse_a_bad_token(api, queue):
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert api.get("/api/v1/queues/").status_code == 401


def test_session_clients_need_a_csrf_token_to_write(agent):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(agent)
    response = client.post("/api/v1/auth/token/", {}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


@pytest.mark.parametrize("rows", [1, 20])
def test_queue_list_runs_a_constant_number_of_queries(api, admin, rows, django_assert_num_queries):
    factories.QueueFactory.create_batch(rows)
    api.force_authenticate(admin)
    with django_assert_num_queries(1):
        response = api.get("/api/v1/queues/")
    assert len(response.json()["results"]) == rows


def test_openapi_schema_describes_the_api(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/queues/" in schema["paths"]
    assert "/api/v1/auth/token/" in schema["paths"]


def test_swagger_ui_loads_only_from_this_server(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources, "the page should load Swagger UI's script and styles"
    assert all(not s.startswith(("http:", "https:", "//")) for s in sources), sources
    assert "swagger-ui" in page


@pytest.mark.parametrize("cursor", ["garbage", "cD1hYmM="])  # the second is "p=abc"
def test_a_forged_cursor_is_a_400_naming_it(api, admin, cursor):
    api.force_authenticate(admin)
    response = api.get("/api/v1/queues/", {"cursor": cursor})
    assert response.status_code == 400
    assert response.json() == {"cursor": ["Invalid cursor"]}


def test_the_openapi_schema_validates_without_warnings(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/v1/tickets/" in out.read_text()
