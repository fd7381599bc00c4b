// Loaded by mocha before any test: the AWS SDK's "node >=22 soon" notice is the same on every
// run and buries real output (the shipped Lambdas run on Node 22).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
