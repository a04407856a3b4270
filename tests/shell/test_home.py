import pytest

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("who", "home"),
    [
        ("agent", "/tickets/"),
        ("pm", "/projects/"),
        ("stakeholder", "/status/"),
        ("admin", "/tickets/"),
    ],
)
def test_each_role_lands_on_its_home_page(request, client_for, who, home):
    user = request.getfixturevalue(who)
    response = client_for(user).get("/")
    assert response.status_code == 302
    assert response["Location"] == home
