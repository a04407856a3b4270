"""Help desk API: thin viewsets over `visible_to`."""

from rest_framework import serializers, viewsets

from helpdesk.models import Queue


class QueueSerializer(serializers.ModelSerializer):
    class Meta:
        model = Queue
        fields = ["id", "name", "slug", "key", "is_public"]


class QueueViewSet(viewsets.ReadOnlyModelViewSet):
    """The queues the caller is a member of (all of them for administrators)."""

    serializer_class = QueueSerializer
    filterset_fields = ["is_public"]

    def get_queryset(self):
        return Queue.objects.visible_to(self.request.user)
