use super::*;

fn project_template() -> ApiSpec {
    load(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"),
        &HashMap::new(),
    )
    .unwrap()
}

#[test]
fn reads_the_project_template() {
    let spec = project_template();
    assert_eq!(spec.route_selection_expression, "$request.body.action");
    assert_eq!(spec.selection_path(), vec!["action".to_string()]);
    let keys: Vec<&str> = spec.routes.keys().map(String::as_str).collect();
    assert_eq!(keys, vec!["$connect", "$default", "$disconnect"]);
    assert_eq!(spec.routes["$connect"].binary, "connect");
    assert_eq!(spec.routes["$disconnect"].binary, "disconnect");
    assert_eq!(spec.routes["$default"].binary, "message");
    let env = &spec.routes["$default"].env;
    assert_eq!(env["TABLE_NAME"], "ConnectionsTable");
    assert_eq!(env["MAX_CONNECTIONS_PER_USER"], "10");
    assert_eq!(env["ALLOWED_ORIGINS"], "*");
    assert_eq!(env["JWT_SECRET_ARN"], "JwtSecret");
    assert!(!env.contains_key("JWT_SECRET"));
    let table = spec.table.unwrap();
    assert_eq!(table.name, "ConnectionsTable");
    assert_eq!(table.ttl_attribute.as_deref(), Some("ttl"));
}

#[test]
fn the_ping_route_is_answered_by_api_gateway() {
    let spec = project_template();
    assert!(!spec.routes.contains_key("ping"), "no function behind ping");
    let ping = &spec.mocks["ping"];
    assert_eq!(ping.integration, "PingIntegration");
    assert!(ping.two_way, "the route response returns the pong");
    let ctx = |name: &str| match name {
        "connectionId" => Some("c1=".to_string()),
        "requestTimeEpoch" => Some("1700000000123".to_string()),
        _ => None,
    };
    let pong: serde_json::Value =
        serde_json::from_str(&ping.answer(&ctx).unwrap().unwrap()).unwrap();
    assert_eq!(
        pong,
        serde_json::json!({"type": "pong", "ts": 1_700_000_000_123_u64, "connection": "c1="})
    );
}

#[test]
fn mock_routes_outside_the_emulated_subset_are_refused_at_load() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    let bad = text.replace("$context.connectionId", "$input.body");
    let e = parse(&bad, &HashMap::new()).unwrap_err().to_string();
    assert!(e.contains("PingIntegrationResponse"), "{e}");
    let dup = text.replace("RouteKey: ping", "RouteKey: $default");
    let e = parse(&dup, &HashMap::new()).unwrap_err().to_string();
    assert!(e.contains("used by another route"), "{e}");
}

#[test]
fn parameter_overrides_flow_into_env() {
    let o = HashMap::from([("MaxConnectionsPerUser".to_string(), "3".to_string())]);
    let spec = load(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"), &o).unwrap();
    assert_eq!(spec.routes["$connect"].env["MAX_CONNECTIONS_PER_USER"], "3");
}

const MINI: &str = r#"
Parameters:
  Secret: {Type: String, Default: s3}
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: "$request.body.kind"}
  R1:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $default
      Target: {"Fn::Join": ["/", ["integrations", {"Ref": I1}]]}
  I1:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      IntegrationUri: {"Fn::Sub": ["arn:x:${Arn}/invocations", {Arn: !GetAtt [Fn, Arn]}]}
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: message}}
    Properties:
      Environment:
        Variables:
          A: !Sub "${Secret}-${AWS::Region}-${!Literal}"
          B: !Join ["", [x, !Ref Secret]]
"#;

#[test]
fn resolves_intrinsics_long_and_short() {
    let spec = parse(MINI, &HashMap::new()).unwrap();
    assert_eq!(spec.selection_path(), vec!["kind".to_string()]);
    let f = &spec.routes["$default"];
    assert_eq!(f.logical_id, "Fn");
    assert_eq!(f.env["A"], "s3-local-${Literal}");
    assert_eq!(f.env["B"], "xs3");
    assert!(spec.table.is_none());
}

#[test]
fn errors_name_the_resource() {
    let bad = MINI.replace("!Ref Secret]]", "!Select [0, [a]]]]");
    let e = parse(&bad, &HashMap::new()).unwrap_err().to_string();
    assert!(e.contains("`Fn`") && e.contains("Select"), "{e}");
    let bad = MINI.replace("Binary: message", "Nothing: x");
    let e = parse(&bad, &HashMap::new()).unwrap_err().to_string();
    assert!(e.contains("`Fn`") && e.contains("Binary"), "{e}");
    let bad = MINI.replace("{\"Ref\": I1}", "{\"Ref\": Missing}");
    let e = parse(&bad, &HashMap::new()).unwrap_err().to_string();
    assert!(e.contains("`R1`") && e.contains("Missing"), "{e}");
    let bad = MINI.replace("WEBSOCKET", "HTTP");
    assert!(parse(&bad, &HashMap::new())
        .unwrap_err()
        .to_string()
        .contains("WEBSOCKET"));
}
