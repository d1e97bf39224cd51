from django.http import HttpRequest
from ninja import Router

from tongban.core.schemas import error_responses

from .schemas import TokenIn, TokenOut
from .services import api_token_issue, password_login

router = Router(tags=["auth"])


@router.post(
    "/token", response={200: TokenOut, **error_responses(400, 401, 413, 422, 429)}, auth=None
)
def token_create(request: HttpRequest, payload: TokenIn) -> TokenOut:
    """换取访问令牌：申请人用手机号+密码；工作人员另需动态验证码 (otp)。"""
    user = password_login(
        request=request, username=payload.username, password=payload.password, otp_token=payload.otp
    )
    raw, token = api_token_issue(user=user)
    return TokenOut(access_token=raw, expires_at=token.expires_at)
