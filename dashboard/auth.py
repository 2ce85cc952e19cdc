"""Optional login for the dashboard.

Two ways, both off by default (an open dashboard on a trusted network):

- **Password**: set ``VOC_DASHBOARD_PASSWORD`` in the dashboard's environment; every reader
  must type it once per browser session.
- **OIDC** (single sign-on through Streamlit's built-in ``st.login``): configure an
  ``[auth]`` section in ``.streamlit/secrets.toml`` (see the README); readers sign in with
  the identity provider and their name is recorded with the alert statuses they set.
"""

from __future__ import annotations

import hmac
import os
import time

import streamlit as st

from dashboard.i18n import t

PASSWORD_ENV = "VOC_DASHBOARD_PASSWORD"


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: Streamlit raises its own not-found error
        return False


def require_login() -> str | None:
    """Stop the page until the reader has logged in (when a login is configured).

    Returns:
        The signed-in user's name under OIDC, else None.
    """
    if _oidc_configured():
        if not st.user.is_logged_in:
            st.title(t("客声 · 客户之声舆情监测"))
            st.info(t("请先登录。"))
            st.button(t("用单点登录账号登录"), on_click=st.login, key="oidc_login")
            st.stop()
        with st.sidebar:
            st.button(t("退出登录"), on_click=st.logout, key="oidc_logout")
        return str(st.user.get("name") or st.user.get("email") or "")
    password = os.environ.get(PASSWORD_ENV)
    if not password or st.session_state.get("_password_ok"):
        return None
    st.title(t("客声 · 客户之声舆情监测"))
    with st.form("login"):
        typed = st.text_input(t("密码"), type="password", key="login_password")
        submitted = st.form_submit_button(t("登录"))
    if submitted:
        if hmac.compare_digest(typed.encode(), password.encode()):
            st.session_state["_password_ok"] = True
            st.session_state.pop("login_password", None)
            st.rerun()
        time.sleep(1.0)  # slows guessing
        st.error(t("密码不正确。"))
    st.stop()
    return None
