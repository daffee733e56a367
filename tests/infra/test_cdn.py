"""The CloudFront distribution in front of the API: the tracker's scripts cached by coding and
origin, everything else passed through uncached with the viewer's headers and body."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra import wiring
from infra.app import build
from infra.constructs.cdn import SCRIPT_PATHS

# CloudFront's managed policies (their ids are fixed).
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.from_stack(build(cdk.App(context={"cdp": {}})))


def only(template: Template, kind: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = template.find_resources(kind).items()
    return logical_id, resource["Properties"]


def distribution(template: Template) -> dict[str, Any]:
    config: dict[str, Any] = only(template, "AWS::CloudFront::Distribution")[1][
        "DistributionConfig"
    ]
    return config


def test_the_script_paths_are_the_collectors_script_routes() -> None:
    scripts = {
        route.path
        for route in wiring.COLLECTOR.routes
        if route.method == "GET" and (route.path.endswith(".js") or "/static/" in route.path)
    }
    assert {path.replace("*", "{file}") for path in SCRIPT_PATHS} == scripts


def test_the_scripts_are_cached_by_path_coding_and_origin(template: Template) -> None:
    policy_id, policy = only(template, "AWS::CloudFront::CachePolicy")
    behaviors = {b["PathPattern"]: b for b in distribution(template)["CacheBehaviors"]}

    assert set(behaviors) == set(SCRIPT_PATHS)
    for behavior in behaviors.values():
        assert behavior["CachePolicyId"] == {"Ref": policy_id}
        assert behavior["Compress"] is True
        assert behavior["AllowedMethods"] == ["GET", "HEAD"]
        assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
        assert "OriginRequestPolicyId" not in behavior  # only the cache key reaches the API
    config = policy["CachePolicyConfig"]
    # as long as the collector's Cache-Control says: 5 minutes, or a year when immutable
    assert (config["MinTTL"], config["DefaultTTL"], config["MaxTTL"]) == (0, 300, 31536000)
    key = config["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["EnableAcceptEncodingGzip"] is True
    assert key["EnableAcceptEncodingBrotli"] is True
    assert key["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": ["Origin"]}
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "none"}
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}


def test_everything_else_reaches_the_functions_uncached_with_its_headers(
    template: Template,
) -> None:
    default = distribution(template)["DefaultCacheBehavior"]

    assert default["CachePolicyId"] == CACHING_DISABLED
    # every viewer header but Host (Authorization, Origin, CORS preflights, Content-Encoding),
    # the query string and the body
    assert default["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert sorted(default["AllowedMethods"]) == sorted(
        ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]
    )
    assert default["ViewerProtocolPolicy"] == "https-only"


def test_the_origin_is_the_http_api_over_tls_1_2(template: Template) -> None:
    api_id, _ = only(template, "AWS::ApiGatewayV2::Api")
    [origin] = distribution(template)["Origins"]

    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]
    assert {"Ref": api_id} in origin["DomainName"]["Fn::Join"][1]
    assert ".execute-api." in origin["DomainName"]["Fn::Join"][1]


def test_every_answer_gets_security_headers_and_cors_is_left_to_the_functions(
    template: Template,
) -> None:
    policy_id, policy = only(template, "AWS::CloudFront::ResponseHeadersPolicy")
    config = policy["ResponseHeadersPolicyConfig"]
    headers = config["SecurityHeadersConfig"]

    assert headers["StrictTransportSecurity"] == {
        "AccessControlMaxAgeSec": 2 * 365 * 86400,
        "IncludeSubdomains": True,
        "Override": True,
    }
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "strict-origin-when-cross-origin"
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    # no CORS configuration, which would replace the functions' Access-Control headers
    assert "CorsConfig" not in config
    assert "CustomHeadersConfig" not in config
    behaviors = [distribution(template)["DefaultCacheBehavior"]]
    behaviors += distribution(template)["CacheBehaviors"]
    assert {str(b["ResponseHeadersPolicyId"]) for b in behaviors} == {str({"Ref": policy_id})}


def test_the_cdn_address_is_an_output(template: Template) -> None:
    distribution_id, _ = only(template, "AWS::CloudFront::Distribution")
    output = template.find_outputs("CdnUrl")["CdnUrl"]
    assert output["Value"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}]]
    }


def test_the_api_learns_the_address_the_viewer_used(template: Template) -> None:
    """The API sees its own domain as Host: a viewer-request function passes the CDN's as
    X-Forwarded-Host, so the settings analytics.js loads send its events through the CDN."""
    function_id, function = only(template, "AWS::CloudFront::Function")
    assert "x-forwarded-host" in function["FunctionCode"]
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    [association] = distribution(template)["DefaultCacheBehavior"]["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    assert association["FunctionARN"] == {"Fn::GetAtt": [function_id, "FunctionARN"]}
