"""Calendar rendering: ICS feeds assembled from cached, serialized components."""
