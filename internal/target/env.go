package target

// Environment variables the tool reads for credentials, targets and API
// budgets: the one list of their names (the SDK reads its own AWS_* ones
// besides). The CLI documents them in --help next to the flags they back.
const (
	// EnvProfile and EnvDefaultProfile name the profile of stacks without
	// one when --profile is not given, in that order (AWS_DEFAULT_PROFILE is
	// the older AWS CLI name that stacker honoured).
	EnvProfile        = "AWS_PROFILE"
	EnvDefaultProfile = "AWS_DEFAULT_PROFILE"
	// EnvMFACode answers the MFA prompt (--mfa-code).
	EnvMFACode = "STACKER_MFA_CODE"
	// EnvNoCache=1 turns the on-disk credential cache off
	// (--no-credential-cache).
	EnvNoCache = "STACKER_NO_CREDENTIAL_CACHE"
	// EnvCredentialCache overrides the credential cache directory.
	EnvCredentialCache = "STACKER_CREDENTIAL_CACHE_DIR"
	// EnvNoDeployCache=1 turns build's deploy records off (no-change
	// detection; --no-deploy-cache): every existing stack is submitted.
	EnvNoDeployCache = "STACKER_NO_DEPLOY_CACHE"
	// EnvDeployCache overrides the deploy record directory.
	EnvDeployCache = "STACKER_DEPLOY_CACHE_DIR"
	// EnvReadRate is the read budget in calls per second per account and
	// region (--read-rate).
	EnvReadRate = "STACKER_READ_RATE"
	// EnvWriteRate is the write budget (CreateStack, UpdateStack,
	// ExecuteChangeSet, DeleteStack ...) in calls per second per account and
	// region.
	EnvWriteRate = "STACKER_WRITE_RATE"
	// EnvAPIStats names a file where a run writes its API call counts by
	// operation as JSON (bench/).
	EnvAPIStats = "STACKER_API_STATS"
	// EnvStackPollTime is the longest wait between two status polls of a
	// stack, in seconds (stacker's STACKER_STACK_POLL_TIME).
	EnvStackPollTime = "STACKER_STACK_POLL_TIME"
)
