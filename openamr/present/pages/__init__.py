"""HTML pages: server-rendered with Jinja2, enhanced by static scripts, under the strict CSP.

How the pages are built (see `docs/pages.md` for adding one):

- `rendering.render` fills a template of `templates/` with the caller's
  language (`i18n`), the session's CSRF token and a link maker for `/static`;
- every page route takes its access context from `Allow`, as API routes do;
  a browser without a session gets the sign-in page with status 401 (`errors`);
- forms post normally and carry the session's CSRF token in a hidden
  `csrf_token` field, read by `forms.read_form_csrf` before authentication;
- nothing inline: CSS and JavaScript are files under `/static` (`static`),
  data for a chart is a `<script type="application/json">` block, which the
  browser does not execute; every page works without JavaScript, and a
  chart's table stays when its drawing cannot run.
"""

from openamr.present.pages.install import install_pages

__all__ = ["install_pages"]
