"""CloudFront in front of the HTTP API: the tracker's scripts from edge caches, everything else
passed through, uncached, to the functions.

The scripts (`/v1/cdp.js`, `/v1/cdp-forms.js` and their content-hash names under `/v1/static/`)
are cached as long as the collector's Cache-Control says (five minutes for the stable paths,
a year for the immutable ones), by path, coding (CloudFront normalises Accept-Encoding to
brotli or gzip and asks the collector for that copy, which the build compressed) and Origin
(the CORS answer differs per site). Every other request goes to the API with all the viewer's
headers but Host (Authorization, CORS preflight headers, Content-Encoding) and its body, and
nothing is cached. Security headers are added to every answer; CORS headers are the functions'
own, as in `cdp dev` and at the API (no CORS setting here, which would override them).
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from constructs import Construct

from infra.constructs.checks import acknowledge

SCRIPT_PATHS = ("/v1/cdp.js", "/v1/cdp-forms.js", "/v1/static/*")
"""The collector's routes of the tracker's scripts (`infra.wiring`), as CloudFront patterns."""


class Cdn(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, api: apigw.HttpApi) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        origin = origins.HttpOrigin(
            f"{api.api_id}.execute-api.{stack.region}.{stack.url_suffix}",
            protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
            origin_ssl_protocols=[cloudfront.OriginSslPolicy.TLS_V1_2],
        )
        security = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            # Names are per account: the region keeps a stage's in two regions apart.
            response_headers_policy_name=f"{stack.stack_name}-SecurityHeaders-{stack.region}",
            comment="HSTS, nosniff, referrer policy and frame options; CORS is the API's own",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(730),
                    include_subdomains=True,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
                    override=True,
                ),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
            ),
        )
        scripts = cloudfront.CachePolicy(
            self,
            "Scripts",
            comment="The tracker's scripts: by path, coding and Origin, as long as the API says",
            min_ttl=Duration.seconds(0),
            default_ttl=Duration.minutes(5),
            max_ttl=Duration.days(365),
            header_behavior=cloudfront.CacheHeaderBehavior.allow_list("Origin"),
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            enable_accept_encoding_gzip=True,
            enable_accept_encoding_brotli=True,
        )
        script_behavior = cloudfront.BehaviorOptions(
            origin=origin,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
            cache_policy=scripts,
            compress=True,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            response_headers_policy=security,
        )
        # The API sees its own domain as Host; the settings analytics.js loads name the address
        # the viewer used (the distribution's), so events keep coming through it.
        viewer_host = cloudfront.Function(
            self,
            "ViewerHost",
            comment="The address the viewer asked for, as X-Forwarded-Host",
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            code=cloudfront.FunctionCode.from_inline(
                "function handler(event) {\n"
                "  var request = event.request;\n"
                "  request.headers['x-forwarded-host'] = {value: request.headers.host.value};\n"
                "  return request;\n"
                "}\n"
            ),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{stack.stack_name}: the tracker's scripts cached, the API passed through",
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                # Caching disabled: this policy may forward Authorization.
                origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                # A redirect would turn a POST into a GET without its body: refused instead.
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                response_headers_policy=security,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=viewer_host,
                        event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                    )
                ],
            ),
            additional_behaviors=dict.fromkeys(SCRIPT_PATHS, script_behavior),
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "the tracker and the API serve visitors of the websites wherever they are",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "requests are throttled at the API stage and authenticated by the functions; a WAF "
            "web ACL (in us-east-1, billed per request) can be attached where one is required",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR3",
            "CloudFront's standard logs record each viewer's IP address and query string, which "
            "identify people and are kept out of logs here; requests passed through are in the "
            "API's access log, the scripts' traffic in CloudFront's metrics",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "the default *.cloudfront.net certificate, whose security policy CloudFront fixes; "
            "the origin is reached over TLS 1.2 only",
        )

    @property
    def url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}"
