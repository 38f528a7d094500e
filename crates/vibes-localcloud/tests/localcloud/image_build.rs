//! Image builds run the buildspec of cfn/main.yaml's ImageBuildProject, as CloudFormation was
//! given it, with the variables vibes starts the build with: a name that differs between the
//! adapter and the template fails here as it would on AWS.

use crate::support::{copy_recipes, own_recipe, project, write, LocalCloud};

#[test]
fn an_image_build_runs_the_templates_buildspec_and_registers_the_image() {
    let cloud = LocalCloud::start();
    // The recipe given as files of the project's own, beside its config.
    let dir = project(
        "ib",
        &format!("[network]\ncreate = true\n\n{}", own_recipe("server")),
    );
    copy_recipes(dir.path());
    cloud
        .vibes(dir.path(), &["apply", "--auto-approve"])
        .expect(0, &cloud);

    let images = cloud.aws(&[
        "ec2",
        "describe-images",
        "--owners",
        "self",
        "--filters",
        "Name=tag:vibes:project,Values=ib",
        "Name=tag:vibes:address,Values=image.server",
    ]);
    let images = images["Images"].as_array().cloned().unwrap_or_default();
    assert_eq!(images.len(), 1, "one server image: {images:?}");
    let id = images[0]["ImageId"].as_str().unwrap();
    let recorded = cloud.aws(&["ssm", "get-parameter", "--name", "/ib/ami/server"]);
    assert_eq!(recorded["Parameter"]["Value"].as_str(), Some(id));

    let log = std::fs::read_to_string(cloud.state.path().join("codebuild/0001/build.log"))
        .expect("the build's log");
    for ran in [
        "Running command test -n \"$VIBES_RECIPE_PREFIX\"",
        "Running command aws s3 cp --recursive",
        "cp plugins.pkr.hcl.txt plugins.pkr.hcl",
        "The configuration is valid: server.pkr.hcl",
        "Phase complete: BUILD State: SUCCEEDED",
    ] {
        assert!(log.contains(ran), "the build log lacks `{ran}`:\n{log}");
    }
    // A second plan has nothing to build.
    cloud
        .vibes(dir.path(), &["plan", "--detailed-exitcode"])
        .expect(0, &cloud);
}

#[test]
fn a_recipe_packer_rejects_fails_its_build_and_no_image_appears() {
    let cloud = LocalCloud::start();
    let dir = project(
        "bad",
        "[network]\ncreate = true\n\n[images.server]\nrecipe = \"broken/server.pkr.hcl\"\nfiles = [\"broken/plugins.pkr.hcl.txt\"]\n",
    );
    write(
        &dir.path().join("broken/server.pkr.hcl"),
        "source \"amazon-ebs\" \"server\" {\n  region = \n}\n",
    );
    copy_recipes(dir.path());
    std::fs::copy(
        dir.path().join("packer/plugins.pkr.hcl.txt"),
        dir.path().join("broken/plugins.pkr.hcl.txt"),
    )
    .unwrap();
    let run = cloud
        .vibes(dir.path(), &["apply", "--auto-approve"])
        .expect(1, &cloud);
    assert!(
        run.all().contains("image build") && run.all().contains("FAILED"),
        "{}",
        run.all()
    );
    // Why, in Packer's words: the end of the build's log, read from CloudWatch Logs.
    assert!(
        run.all().contains("the end of its log:") && run.all().contains("    | "),
        "{}",
        run.all()
    );
    let images = cloud.aws(&[
        "ec2",
        "describe-images",
        "--owners",
        "self",
        "--filters",
        "Name=tag:vibes:project,Values=bad",
    ]);
    assert_eq!(images["Images"].as_array().map(Vec::len), Some(0));
}

#[test]
fn an_image_build_runs_as_its_service_role_and_iam_refuses_what_the_role_does_not_allow() {
    let cloud = LocalCloud::start();
    let dir = project("ibr", "[network]\ncreate = true\n\n[images.server]\n");
    cloud
        .vibes(
            dir.path(),
            &["apply", "--auto-approve", "--exclude", "image.server"],
        )
        .expect(0, &cloud);
    let role = cloud.role("ibr-main-ImageBuildRole");
    // The recipes can no longer be read: the build's first call is refused.
    cloud.grant_only(
        &role,
        r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}"#,
    );
    let failed = cloud
        .vibes(dir.path(), &["apply", "--auto-approve"])
        .expect(1, &cloud);
    let out = failed.all();
    assert!(
        out.contains(&format!("assumed-role/{role}/AWSCodeBuild-"))
            && out.contains("is not authorized to perform: s3:ListBucket"),
        "the build's own call is refused, naming its role and the action:\n{out}"
    );
}
