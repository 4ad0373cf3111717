"""HTML pages; the data comes from the JSON API."""
from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    return render_template("index.html")


@bp.get("/evaluate")
def evaluate():
    return render_template("evaluate.html")
