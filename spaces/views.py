from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from spaces import selectors


def home(request):
    return render(request, "spaces/home.html", {"cities": selectors.spaces_by_city()})


def space_detail(request, slug: str):
    page = selectors.space_page(slug=slug, now=timezone.now())
    if page is None:
        raise Http404
    return render(request, "spaces/space_detail.html", {"page": page, "space": page.space})
