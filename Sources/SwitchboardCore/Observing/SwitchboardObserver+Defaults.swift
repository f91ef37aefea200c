extension SwitchboardObserver {
    public func listenerCreated(_ listener: ListenerInfo) {}
    public func listenerDeleted(_ listener: ListenerInfo) {}
    public func listenerFailed(_ listener: ListenerInfo) {}
    public func sessionOpened(_ session: SessionInfo) {}
    public func sessionClosed(_ session: SessionInfo) {}
    public func sessionCaptured(_ chunk: CapturedChunk) {}
    public func sessionData(_ event: SessionDataEvent) {}
    public func sessionReconnecting(_ status: ReconnectStatus) {}
    public func connectionRejected(listener: String, reason: RejectReason) {}
    public func connectFailed(listener: String?, name: String?, error: SwitchboardError) {}
    public func faultAdded(_ fault: Fault, on target: FaultTarget) {}
    public func faultChanged(_ fault: Fault, on target: FaultTarget) {}
    public func faultRemoved(_ fault: Fault, from target: FaultTarget) {}
    public func faultApplied(_ fault: SessionFault, session: SessionID, listener: String?, name: String?) {}
    public func faultBytes(_ type: FaultType, delayed: Int, dropped: Int, corrupted: Int) {}
}
