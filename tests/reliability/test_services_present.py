"""The real services the suite runs against. Outside CI a missing Redis is skipped; in
CI (CI=true) it fails, so nothing silently runs against less than the real thing."""

import pytest
import redis
from django.db import connection


def test_redis_answers(redis_url):
    assert redis.Redis.from_url(redis_url, socket_timeout=5).ping() is True


@pytest.mark.django_db
def test_the_database_is_a_real_postgresql():
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        assert int(cursor.fetchone()[0]) >= 140000
